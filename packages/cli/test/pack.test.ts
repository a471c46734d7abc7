import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkg = fileURLToPath(new URL('..', import.meta.url));
const manifest = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string };
const work = mkdtempSync(join(tmpdir(), 'immune-pack-'));
const tarball = join(work, `immune-cli-${manifest.version}.tgz`);

interface PackReport {
  filename: string;
  files: { path: string }[];
}

/** npm with its own empty cache and no registry: anything the tarball needs from one fails the command. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    npm_config_cache: join(work, 'cache'),
    npm_config_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  delete env.NATS_URL;
  delete env.IMMUNE_TOKEN;
  delete env.IMMUNE_OPERATOR_TOKEN;
  return env;
}

/**
 * The installable package, packed the way a user packs it: plain `npm pack`, whose `prepack` builds the bundle.
 * It runs in a staging copy with no dist at all (so only prepack can produce what is packed, and the worktree's
 * own dist, which `pnpm immune` may be using, is never written): package.json and bin are copied, scripts is
 * a link, so the bundle script reads the sources and esbuild from the package itself. The tarball then runs
 * with npx from an empty folder, offline with an empty npm cache.
 */
describe('the packed immune CLI', { timeout: 180_000 }, () => {
  let packed: PackReport;

  beforeAll(async () => {
    const stage = join(work, 'stage');
    mkdirSync(stage);
    copyFileSync(join(pkg, 'package.json'), join(stage, 'package.json'));
    copyFileSync(join(pkg, 'README.md'), join(stage, 'README.md'));
    cpSync(join(pkg, 'bin'), join(stage, 'bin'), { recursive: true });
    symlinkSync(join(pkg, 'scripts'), join(stage, 'scripts'), 'dir');
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: stage,
      env: npmEnv(),
      maxBuffer: 16 * 1024 * 1024,
    });
    // npm prints the prepack script's own output before the JSON report.
    [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as PackReport[];
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('packs the bundle prepack built, and no declarations or sources', () => {
    expect(packed.filename).toBe(`immune-cli-${manifest.version}.tgz`);
    expect(packed.files.map((file) => file.path).sort()).toEqual([
      'README.md',
      'bin/immune.js',
      'dist/THIRD-PARTY-LICENSES.txt',
      'dist/immune.js',
      'package.json',
    ]);
  });

  it('runs from an empty folder with `npx ./immune-cli-<version>.tgz`', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    copyFileSync(tarball, join(empty, `immune-cli-${manifest.version}.tgz`));
    const npx = (...args: string[]) =>
      run('npx', ['--yes', `./immune-cli-${manifest.version}.tgz`, ...args], { cwd: empty, env: npmEnv() });

    expect((await npx('--version')).stdout.trim()).toBe(manifest.version);
    const help = await npx('--help');
    expect(help.stdout).toContain('Usage: immune <command>');
    expect(help.stdout).toMatch(/pending\s+severe cases/);
    expect((await npx('completion', 'bash')).stdout).toContain('complete -o filenames -F _immune immune');
    // A real command through the bundle: without a token the dashboard transport says what is missing.
    const failed = await npx('pending').catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain('need an operator token');
    // The bundle mints operator tokens without any service: the line holds the hash, never the token.
    const minted = await npx('token', 'create', '--name', 'alice', '--role', 'operator');
    expect(minted.stdout).toMatch(/^imo_[A-Za-z0-9_-]{43}\n$/);
    expect(minted.stderr).toMatch(/\nalice:operator:[0-9a-f]{64}\n$/);
    expect(minted.stderr).not.toContain(minted.stdout.trim());
  });

  it('installs with nothing beside it: an `immune` command and no library entry', async () => {
    const consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), '{"name":"consumer","private":true,"type":"module"}');
    await run('npm', ['install', tarball], { cwd: consumer, env: npmEnv() });
    // No runtime dependencies: only the package itself lands in node_modules.
    expect(readdirSync(join(consumer, 'node_modules')).filter((name) => !name.startsWith('.'))).toEqual([
      '@immune',
    ]);
    expect(readdirSync(join(consumer, 'node_modules', '@immune'))).toEqual(['cli']);
    const installed = JSON.parse(
      readFileSync(join(consumer, 'node_modules', '@immune', 'cli', 'package.json'), 'utf8'),
    ) as Record<string, unknown>;
    expect(installed).not.toHaveProperty('dependencies');
    expect(installed).not.toHaveProperty('types');
    // The notices of what the bundle holds travel with it.
    const notices = readFileSync(
      join(consumer, 'node_modules', '@immune', 'cli', 'dist', 'THIRD-PARTY-LICENSES.txt'),
      'utf8',
    );
    expect(notices).toMatch(/^@nats-io\/nats-core@\S+ \(Apache-2\.0/m);
    expect(notices).toMatch(/^pg@\S+ \(MIT/m);
    const version = await run(join(consumer, 'node_modules', '.bin', 'immune'), ['--version'], {
      cwd: consumer,
      env: npmEnv(),
    });
    expect(version.stdout.trim()).toBe(manifest.version);
    // The TypeScript entry (FleetJudge for the detection benchmark) is the workspace's only: importing the
    // installed package says so instead of loading something half-typed.
    const imported = await run(
      process.execPath,
      ['--input-type=module', '-e', "await import('@immune/cli').catch((e) => console.log(e.code));"],
      { cwd: consumer, env: npmEnv() },
    );
    expect(imported.stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});
