import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One test command for the whole monorepo: every workspace package is a vitest project, so a single run gives
// one summary. Packages resolve each other's TypeScript sources through the `@immune/source` export
// condition, so tests never need a prior build.
const sourceCondition = ['@immune/source'];
const repoRoot = fileURLToPath(new URL('.', import.meta.url));

const workspaceProjects = ['packages', 'apps', 'bench', 'sdks'].flatMap((group) => {
  const dir = join(repoRoot, group);
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && existsSync(join(dir, entry.name, 'package.json')))
    .map((entry) => ({
      extends: true as const,
      // Benchmarks share folder names with what they measure (bench/gateway, apps/gateway); SDKs for other
      // languages are named by language (sdks/python: sdk-python).
      test: { name: projectName(group, entry.name), root: join(dir, entry.name) },
    }));
});
function projectName(group: string, folder: string): string {
  if (group === 'bench') return `bench-${folder}`;
  if (group === 'sdks') return `sdk-${folder}`;
  return folder;
}
// The dashboard's real-browser suite (Chromium driven by playwright-core) is a project of its own; it does not
// extend the root config, whose `include` would add the dashboard's unit tests to it.
const browserSuite = {
  extends: false as const,
  resolve: { conditions: sourceCondition },
  ssr: { resolve: { conditions: sourceCondition, externalConditions: sourceCondition } },
  test: {
    name: 'dashboard-e2e',
    root: join(repoRoot, 'apps', 'dashboard'),
    testTimeout: 60_000,
    hookTimeout: 120_000,
    expect: { poll: { timeout: 15_000 } },
    include: ['e2e/**/*.test.ts'],
  },
};
// Deployment files are checked statically by a package of their own.
if (existsSync(join(repoRoot, 'deploy', 'package.json'))) {
  workspaceProjects.push({ extends: true, test: { name: 'deploy', root: join(repoRoot, 'deploy') } });
}

export default defineConfig({
  resolve: { conditions: sourceCondition },
  ssr: { resolve: { conditions: sourceCondition, externalConditions: sourceCondition } },
  test: {
    projects: [...workspaceProjects, browserSuite],
    // Timeouts catch hangs, never slowness: the suite must pass at load average 20+ on a 2-core machine, where
    // vitest's 5 s / 10 s defaults failed tests and teardown hooks whose assertions had all passed; likewise
    // expect.poll's 1 s default, shorter than one page update there.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    expect: { poll: { timeout: 15_000 } },
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    reporters: process.env.CI ? ['default', ['json', { outputFile: 'reports/vitest.json' }]] : ['default'],
  },
});
