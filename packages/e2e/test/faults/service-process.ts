import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { eventually } from '@immune/bus/testing';

const appsDir = fileURLToPath(new URL('../../../../apps/', import.meta.url));

/**
 * One service of the repository as its own OS process, started the way it is deployed (`src/main.ts` through
 * tsx, env only), so a fault test can SIGKILL it and start it again on the same port.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private stderrTail = '';
  private stdoutRest = '';
  /** Every JSON log line the process wrote to stdout, parsed, across restarts (the outage tests count them). */
  readonly logs: Array<Record<string, unknown>> = [];
  /** Everything the process wrote to stderr, across restarts (the secret scan reads it whole). */
  readonly stderr: string[] = [];

  constructor(
    readonly app: string,
    readonly port: number,
    /** The service's own settings (its port variable included), on top of this process's env. */
    readonly env: Record<string, string>,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the process and waits for its `/readyz`. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', 'tsx', 'src/main.ts'], {
      cwd: `${appsDir}${this.app}`,
      env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'warn', HOST: '127.0.0.1', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.stdoutRest = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => this.takeLogs(chunk));
    // Kept for the failure message only: the last few kB of what the service said.
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4_000);
      this.stderr.push(chunk);
    });
    await eventually(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`${this.app} exited (${child.exitCode}):\n${this.stderrTail}`);
        const res = await fetch(`${this.url}/readyz`).catch(() => undefined);
        if (res?.status !== 200) throw new Error(`${this.app} not ready yet`);
      },
      90_000,
      100,
    );
  }

  /** The log lines whose `event` is `event`. */
  events(event: string): Array<Record<string, unknown>> {
    return this.logs.filter((line) => line.event === event);
  }

  private takeLogs(chunk: string): void {
    const lines = (this.stdoutRest + chunk).split('\n');
    this.stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        this.logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // LOG_FORMAT=json makes every line JSON; anything else is kept as text so nothing is missed.
        this.logs.push({ text: line });
      }
    }
  }

  /** kill -9, and wait until the process is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  /** A graceful stop (SIGTERM); falls back to SIGKILL when the process does not exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
