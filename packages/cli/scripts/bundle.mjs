// Bundles the CLI into dist/immune.js with everything it imports (workspace packages from their TypeScript
// sources, NATS, kysely, pg), so the packed tarball has no runtime dependencies: every @immune/* package is a
// devDependency and `npx ./immune-cli-<version>.tgz` works offline in an empty folder. The output folder is
// the first argument, relative to the working directory (default dist/: `npm pack` runs this from the
// package it packs, which is how the pack test bundles into a staging copy). The folder is emptied first, so
// nothing an older build left there is packed.
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { build } from 'esbuild';

const outdir = resolve(process.argv[2] ?? 'dist');
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: { immune: new URL('../src/main.ts', import.meta.url).pathname },
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  conditions: ['@immune/source'],
  // pg's optional native binding is never used; CommonJS dependencies get a real `require` in ESM.
  external: ['pg-native'],
  banner: {
    js: "import { createRequire as __immuneCreateRequire } from 'node:module'; const require = __immuneCreateRequire(import.meta.url);",
  },
  legalComments: 'linked',
  logLevel: 'warning',
});
