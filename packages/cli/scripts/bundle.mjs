// Bundles the CLI (dist/immune.js) and the library entry (dist/index.js) with everything they import
// (workspace packages from their TypeScript sources, NATS, kysely, pg) into the output folder given as the
// first argument (default dist/). Every @immune/* package is a devDependency, so nothing the tarball runs may
// import one: `npx ./immune-cli-<version>.tgz` works offline in an empty folder, and so does
// `import('@immune/cli')` after installing the tarball. tsc (tsconfig.build.json) only writes the declarations.
import { build } from 'esbuild';

await build({
  entryPoints: {
    immune: new URL('../src/main.ts', import.meta.url).pathname,
    index: new URL('../src/index.ts', import.meta.url).pathname,
  },
  outdir: process.argv[2] ?? new URL('../dist', import.meta.url).pathname,
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
