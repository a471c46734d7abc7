import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = process.env.NATS_SERVER_BIN ?? '/usr/sbin/nats-server';

export interface OwnNatsServerOptions {
  /**
   * Extra nats-server configuration (its config-file syntax), e.g. `authorization { ... }` or `tls { ... }`.
   * Listen address, port and JetStream store are set by the harness.
   */
  config?: string;
  /** Extra environment for the server process (a config may read `$VARIABLES`, e.g. passwords). */
  env?: Record<string, string>;
}

/**
 * A nats-server of the test's own, so a test can kill and restart it without disturbing the shared one, or
 * run it with an auth / TLS configuration. Outage tests need the binary; without it they fail and say so.
 */
export class OwnNatsServer {
  private child: ChildProcess | undefined;
  private readonly storeDir = mkdtempSync(join(tmpdir(), 'immune-nats-'));
  private readonly args: string[];
  private readonly env: Record<string, string>;
  /** The server's log since the last (re)start, at most the last 256 KiB: permission violations show here. */
  log = '';

  private constructor(
    readonly port: number,
    options: OwnNatsServerOptions,
  ) {
    this.env = options.env ?? {};
    if (options.config === undefined) {
      this.args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', this.storeDir];
    } else {
      const file = join(this.storeDir, 'server.conf');
      writeFileSync(
        file,
        `listen: "127.0.0.1:${port}"\njetstream { store_dir: "${join(this.storeDir, 'js')}" }\n${options.config}\n`,
      );
      this.args = ['-c', file];
    }
  }

  static async start(options: OwnNatsServerOptions = {}): Promise<OwnNatsServer> {
    if (!existsSync(BINARY)) {
      throw new Error(`outage tests need the nats-server binary at ${BINARY} (or set NATS_SERVER_BIN)`);
    }
    const server = new OwnNatsServer(await freePort(), options);
    await server.resume();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** The same server as a `tls://` URL (TLS required by the client). */
  get tlsUrl(): string {
    return `tls://127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    const child = spawn(BINARY, this.args, {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...this.env },
    });
    this.child = child;
    this.log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${this.log}`)), 10_000);
      child.stderr?.on('data', (chunk: Buffer) => {
        this.log = (this.log + chunk.toString()).slice(-256 * 1024);
        if (this.log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with ${code}:\n${this.log}`));
      });
    });
  }

  async kill(): Promise<void> {
    const child = this.child;
    // A SIGKILLed child has signalCode set and exitCode null: it is gone all the same.
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

/** A port nothing listens on right now, from the kernel (a random pick can collide with another run's). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
