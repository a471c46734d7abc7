import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// No Docker engine or Kubernetes cluster runs on the CI machines, so the deployment files are checked
// statically: they parse, and everything they name (build targets, packages, ports, files) exists and agrees
// with the services' own configuration.

const repo = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

interface ComposeService {
  image?: string;
  build?: { context: string; target?: string; args?: Record<string, string> };
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
}

const compose = parse(read('docker-compose.yml'), { merge: true }) as Compose;
const dockerfile = read('Dockerfile');
const stages = [...dockerfile.matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim)].map((m) => m[1]);

/** Folder of a workspace package by its name, e.g. `gateway` → apps/gateway. */
function packageDir(name: string): string | undefined {
  for (const group of ['apps', 'packages']) {
    const dir = join(group, name);
    if (!existsSync(join(repo, dir, 'package.json'))) continue;
    const manifest = JSON.parse(read(join(dir, 'package.json'))) as { name: string };
    if (manifest.name === `@immune/${name}`) return dir;
  }
  return undefined;
}

/** Services are the apps with an entry point; each must be deployed everywhere. */
const services = readdirSync(join(repo, 'apps')).filter((name) =>
  existsSync(join(repo, 'apps', name, 'src/main.ts')),
);

/** The port variable and its default, as the service's own config declares it. */
function configuredPort(dir: string): { variable: string; port: number } | undefined {
  const config = join(repo, dir, 'src/config.ts');
  if (!existsSync(config)) return undefined;
  const match = /serviceEnv\('([A-Z_]+)',\s*(\d+)\)/.exec(readFileSync(config, 'utf8'));
  return match ? { variable: match[1]!, port: Number(match[2]) } : undefined;
}

const built = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);

describe('docker-compose.yml', () => {
  it('runs every service and the infrastructure it needs', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['timescaledb', 'nats', 'otel-collector', ...services]),
    );
  });

  it('pins every image to a version', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.image === undefined) continue;
      expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(service.image, name).not.toMatch(/:latest$/);
    }
  });

  it('builds from Dockerfile targets that exist, for packages that exist', () => {
    expect(built.length).toBeGreaterThan(0);
    for (const [name, service] of built) {
      const target = service.build?.target;
      expect(stages, `${name}: target ${target}`).toContain(target);
      const pkg = service.build?.args?.SERVICE;
      expect(pkg, `${name}: SERVICE build arg`).toBeDefined();
      const dir = packageDir(pkg!);
      expect(dir, `${name}: package @immune/${pkg}`).toBeDefined();
      expect(existsSync(join(repo, dir!, 'src/main.ts')), `${name}: ${dir}/src/main.ts`).toBe(true);
    }
  });

  it('publishes each service on the port its own config defaults to, and health-checks that port', () => {
    for (const [name, service] of built) {
      const env = service.environment ?? {};
      const portVariables = Object.keys(env).filter((key) => key.endsWith('_PORT'));
      expect(portVariables, name).toHaveLength(1);
      const variable = portVariables[0]!;
      const port = Number(env[variable]);
      expect(service.ports, name).toContain(`${port}:${port}`);
      expect(service.healthcheck?.test.join(' '), name).toContain(`127.0.0.1:${port}/`);
      const configured = configuredPort(packageDir(service.build!.args!.SERVICE!)!);
      if (configured) expect({ variable, port }, name).toEqual(configured);
      else expect(read(join(packageDir(name)!, 'src/main.ts')), name).toContain(variable);
    }
  });

  it('waits only on dependencies that exist, and on health only where there is a health check', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        const target = compose.services[dependency];
        expect(target, `${name} → ${dependency}`).toBeDefined();
        if (condition === 'service_healthy')
          expect(target?.healthcheck, `${name} → ${dependency}`).toBeDefined();
      }
    }
  });

  it('mounts only files that are in the repository', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0]!;
        if (source.startsWith('./')) expect(existsSync(join(repo, source)), `${name}: ${source}`).toBe(true);
      }
    }
  });
});

describe('Dockerfile', () => {
  it('has the stages compose and the docs name, and runs as a non-root user on Node 24', () => {
    expect(stages).toEqual(expect.arrayContaining(['pruned', 'build', 'service', 'cli']));
    expect(dockerfile).toMatch(/ARG NODE_IMAGE=node:24-/);
    const serviceStage = dockerfile.slice(dockerfile.indexOf('AS service'));
    expect(serviceStage.slice(0, serviceStage.indexOf('FROM', 10))).toMatch(/^USER node$/m);
  });

  it('pins pnpm and turbo to the versions the repository uses', () => {
    const root = JSON.parse(read('package.json')) as {
      packageManager: string;
      devDependencies: Record<string, string>;
    };
    const pnpm = /^pnpm@([\d.]+)/.exec(root.packageManager)?.[1];
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${pnpm}`);
    expect(dockerfile).toContain(`ARG TURBO_VERSION=${root.devDependencies.turbo}`);
  });

  it('ships only dist/ of every workspace package a service depends on', () => {
    for (const service of services) {
      const manifest = JSON.parse(read(join('apps', service, 'package.json'))) as {
        files?: string[];
        dependencies?: Record<string, string>;
      };
      expect(manifest.files, service).toEqual(['dist']);
      for (const dependency of Object.keys(manifest.dependencies ?? {})) {
        if (!dependency.startsWith('@immune/')) continue;
        const dir = packageDir(dependency.slice('@immune/'.length))!;
        const files = (JSON.parse(read(join(dir, 'package.json'))) as { files?: string[] }).files;
        expect(files, `${service} → ${dependency}`).toContain('dist');
      }
    }
  });
});
