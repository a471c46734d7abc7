import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('./fixtures/busy-service.ts', import.meta.url));
const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

export type LogEntry = Record<string, unknown>;

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly port: number;
  logs(): LogEntry[];
  output(): string;
  waitForLog(match: (entry: LogEntry) => boolean, timeoutMs?: number, what?: string): Promise<LogEntry>;
  waitForEvent(event: string, count?: number, timeoutMs?: number): Promise<LogEntry>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal: NodeJS.Signals): void;
}

/** Spawns the busy-service fixture as a real process (TypeScript through tsx) and waits until it is ready. */
export async function startBusyService(
  env: Record<string, string> = {},
  { waitUntilReady = true } = {},
): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--conditions=@immune/source', '--import', 'tsx', FIXTURE], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, HOST: '127.0.0.1', BUSY_PORT: '0', LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const entries: LogEntry[] = [];
  const waiters = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    const lines = stdout.split('\n');
    stdout = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        entries.push(JSON.parse(line) as LogEntry);
      } catch {
        entries.push({ unparsed: line });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
    (resolve) => {
      child.on('exit', (code, signal) => {
        for (const wake of waiters) wake();
        resolve({ code, signal, at: Date.now() });
      });
    },
  );
  let exitedYet = false;
  void exited.then(() => {
    exitedYet = true;
  });

  const output = () =>
    `${entries.map((entry) => JSON.stringify(entry)).join('\n')}\n${stdout}\nstderr:\n${stderr}`;

  function waitForLog(match: (entry: LogEntry) => boolean, timeoutMs = 90_000, what = 'log line') {
    return new Promise<LogEntry>((resolve, reject) => {
      const check = () => {
        const found = entries.find(match);
        if (found) {
          cleanup();
          resolve(found);
        } else if (exitedYet) {
          cleanup();
          reject(new Error(`process exited before ${what}\n${output()}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${what}\n${output()}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  }

  const waitForEvent = (event: string, count = 1, timeoutMs?: number) =>
    waitForLog(
      (entry) => entry.event === event && entries.filter((e) => e.event === event).length >= count,
      timeoutMs,
      `${count} x ${event}`,
    );

  let port = 0;
  if (waitUntilReady) {
    port = Number((await waitForEvent('http-listening', 1, 120_000)).port);
    await waitForEvent('service-ready');
  }
  return {
    child,
    port,
    logs: () => [...entries],
    output,
    waitForLog,
    waitForEvent,
    exited,
    kill: (signal) => child.kill(signal),
  };
}

export interface HttpResult {
  status: number;
  body: string;
  finishedAt: number;
}

/** One request on a fresh connection (no keep-alive pool), so "new connection refused" is observable. */
export function get(port: number, path: string): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body, finishedAt: Date.now() }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
