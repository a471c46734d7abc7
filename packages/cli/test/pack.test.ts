import { execFile } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const pkg = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'immune-pack-'));

/**
 * The installable package: the bundle is built into a staging copy (never into the worktree's dist, which
 * other runs may use), packed with the real npm, and run with npx from an empty folder, offline and with an
 * empty npm cache, so it passes only if the tarball needs nothing from a registry.
 */
describe('the packed immune CLI', { timeout: 180_000 }, () => {
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('runs from an empty folder with `npx ./immune-cli-<version>.tgz`', async () => {
    const stage = join(work, 'stage');
    mkdirSync(stage);
    copyFileSync(join(pkg, 'package.json'), join(stage, 'package.json'));
    cpSync(join(pkg, 'bin'), join(stage, 'bin'), { recursive: true });
    await run(process.execPath, [join(pkg, 'scripts', 'bundle.mjs'), join(stage, 'dist')]);
    await run('npm', ['pack', '--pack-destination', work], { cwd: stage });
    const tarball = readdirSync(work).find((name) => /^immune-cli-.*\.tgz$/.test(name));
    expect(tarball).toBeDefined();

    const empty = join(work, 'empty');
    mkdirSync(empty);
    copyFileSync(join(work, tarball!), join(empty, tarball!));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      npm_config_cache: join(work, 'cache'),
      npm_config_offline: 'true',
    };
    delete env.NATS_URL;
    delete env.IMMUNE_TOKEN;
    delete env.IMMUNE_OPERATOR_TOKEN;
    const npx = (...args: string[]) => run('npx', ['--yes', `./${tarball}`, ...args], { cwd: empty, env });

    const version = await npx('--version');
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }).version,
    );
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

  it('installs as a library whose entry imports none of its devDependencies', async () => {
    const tarball = readdirSync(work).find((name) => /^immune-cli-.*\.tgz$/.test(name));
    expect(tarball, 'the first test packs it').toBeDefined();
    const consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), '{"name":"consumer","private":true,"type":"module"}');
    const env = { ...process.env, npm_config_cache: join(work, 'cache'), npm_config_offline: 'true' };
    await run('npm', ['install', '--no-audit', '--no-fund', join(work, tarball!)], { cwd: consumer, env });
    // Only the package itself lands in node_modules: were an @immune/* import left in dist/index.js, the
    // import below would fail to resolve.
    expect(readdirSync(join(consumer, 'node_modules')).filter((name) => !name.startsWith('.'))).toEqual([
      '@immune',
    ]);
    expect(readdirSync(join(consumer, 'node_modules', '@immune'))).toEqual(['cli']);
    const imported = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('@immune/cli'); console.log(typeof m.run, typeof m.FleetJudge, typeof m.judgeConfig);",
      ],
      { cwd: consumer, env },
    );
    expect(imported.stdout.trim()).toBe('function function function');
  });
});
