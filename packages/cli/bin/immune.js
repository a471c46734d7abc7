#!/usr/bin/env node
// Runs the bundled CLI (dist/immune.js, everything inside: what the packed tarball ships) when it is built.
// Inside the monorepo without a build (or with IMMUNE_CLI_FROM_SOURCE=1, which the tests use so they never
// run a stale build) it re-runs itself on the TypeScript sources through tsx, with the condition that
// resolves workspace packages to their sources.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const dist = new URL('../dist/immune.js', import.meta.url);
const source = new URL('../src/main.ts', import.meta.url);

if (existsSync(dist) && process.env.IMMUNE_CLI_FROM_SOURCE !== '1') {
  await import(dist.href);
} else if (existsSync(source)) {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@immune/source',
      '--import',
      import.meta.resolve('tsx'),
      source.pathname,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit' },
  );
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
} else {
  process.stderr.write('immune: not built; run `pnpm --filter @immune/cli build`\n');
  process.exit(1);
}
