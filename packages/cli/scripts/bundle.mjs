// Bundles the CLI into dist/immune.js with everything it imports (workspace packages from their TypeScript
// sources, NATS, kysely, pg), so the packed tarball has no runtime dependencies: every @immune/* package is a
// devDependency and `npx ./immune-cli-<version>.tgz` works offline in an empty folder. The output folder is
// the first argument, relative to the working directory (default dist/: `npm pack` runs this from the
// package it packs, which is how the pack test bundles into a staging copy). The folder is emptied first, so
// nothing an older build left there is packed. The bundled packages' licenses ask that copies carry their
// notices, so the license of every third-party package in the bundle goes into THIRD-PARTY-LICENSES.txt.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const outdir = resolve(process.argv[2] ?? 'dist');
rmSync(outdir, { recursive: true, force: true });

const { metafile } = await build({
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
  metafile: true,
  logLevel: 'warning',
});

// Inputs are paths relative to the working directory; a third-party one lies under .../node_modules/<name>/.
const packageRoots = new Set(
  Object.keys(metafile.inputs).flatMap((input) => {
    const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
    return match ? [resolve(match[1])] : [];
  }),
);
const notices = [...packageRoots]
  .map((root) => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const files = readdirSync(root).filter((name) => /^(licen[cs]e|copying|notice)/i.test(name));
    const text = files.map((name) => readFileSync(join(root, name), 'utf8').trim()).join('\n\n');
    const author = typeof manifest.author === 'string' ? manifest.author : manifest.author?.name;
    const header = `${manifest.name}@${manifest.version} (${manifest.license}${author ? `, ${author}` : ''})`;
    return {
      name: manifest.name,
      notice: `${header}\n\n${text || `${manifest.license} (the package ships no license file)`}`,
    };
  })
  .sort((a, b) => a.name.localeCompare(b.name))
  .map(({ notice }) => notice);
writeFileSync(
  join(outdir, 'THIRD-PARTY-LICENSES.txt'),
  `immune.js bundles these packages:\n\n${notices.join(`\n\n${'-'.repeat(78)}\n\n`)}\n`,
);
