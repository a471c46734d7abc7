// Bundles the CLI and everything it imports (workspace packages from their TypeScript sources, NATS, kysely,
// pg) into one file, dist/immune.js (or the path given as the first argument), so the packed tarball has no dependencies to install: `npx
// ./immune-cli-<version>.tgz` works offline in an empty folder.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../src/main.ts', import.meta.url).pathname],
  outfile: process.argv[2] ?? new URL('../dist/immune.js', import.meta.url).pathname,
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
