import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster of its own (initdb + pg_ctl on a free port), for tests that stop and start
 * the server: the machine's shared server on 5432 must never be stopped under other tests. PostgreSQL refuses
 * to run as root, so as root the cluster belongs to the `postgres` user.
 */
export class TempPostgres {
  private constructor(
    private readonly dir: string,
    readonly port: number,
    private readonly bin: string,
    private readonly asUser: string | undefined,
  ) {}

  static async start(): Promise<TempPostgres> {
    const bin = findBinaries();
    const asUser = process.getuid?.() === 0 ? 'postgres' : undefined;
    const dir = await mkdtemp(join(tmpdir(), 'immune-pg-'));
    if (asUser !== undefined) {
      const { stdout } = await run('id', ['-u', asUser]);
      const { stdout: gid } = await run('id', ['-g', asUser]);
      await chown(dir, Number(stdout.trim()), Number(gid.trim()));
    }
    await chmod(dir, 0o700);
    const pg = new TempPostgres(dir, await freePort(), bin, asUser);
    await pg.exec('initdb', ['-D', pg.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
    await pg.resume();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** Stops the server the way an outage would: connections are cut at once. */
  async stop(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']);
  }

  async resume(): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -h 127.0.0.1 -c fsync=off -c max_connections=50`;
    await this.exec('pg_ctl', [
      '-D',
      this.dataDir,
      '-o',
      options,
      '-l',
      join(this.dir, 'log'),
      '-w',
      'start',
    ]);
  }

  async destroy(): Promise<void> {
    await this.exec('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const path = join(this.bin, tool);
    if (this.asUser === undefined) await run(path, args);
    else await run('runuser', ['-u', this.asUser, '--', path, ...args]);
  }
}

function findBinaries(): string {
  for (const version of ['17', '16', '15', '14', '13']) {
    const dir = `/usr/lib/postgresql/${version}/bin`;
    if (existsSync(join(dir, 'initdb'))) return dir;
  }
  throw new Error(
    'this test needs PostgreSQL server binaries (initdb, pg_ctl) to run a cluster of its own; ' +
      'install postgresql (Debian: /usr/lib/postgresql/<version>/bin)',
  );
}

function freePort(): Promise<number> {
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
