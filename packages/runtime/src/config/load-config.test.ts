import { inspect } from 'node:util';
import { Type } from 'typebox';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { serviceEnv } from './env-fragments.js';
import { describeConfig, loadConfig } from './load-config.js';
import { loadConfigOrExit } from './load-config-or-exit.js';
import { Secret } from './secret.js';

const GatewayEnv = Type.Object({
  ...serviceEnv('GATEWAY_PORT', 4000),
  NATS_URL: Type.Optional(Type.String({ format: 'uri' })),
  DATABASE_URL: Type.Optional(Secret(Type.String({ format: 'uri' }))),
  INGEST_API_KEY: Secret(Type.String({ minLength: 8 })),
  LLM_UPSTREAM_URL: Type.String({ format: 'uri', default: 'https://api.openai.com' }),
  GATEWAY_PARTITIONS: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
  GATEWAY_ALLOWED_MODELS: Type.Optional(Type.Array(Type.String({ minLength: 1 }))),
  GATEWAY_RETRY_DELAYS_MS: Type.Array(Type.Integer({ minimum: 0 }), { default: [100, 500] }),
  GATEWAY_BLOCK_UNKNOWN: Type.Boolean({ default: false }),
  GATEWAY_PROVIDERS: Type.Optional(Type.Object({ default: Type.String() })),
});

const SECRET_KEY = 'sk-live-0123456789';
const DB_PASSWORD = 'hunter2-db-password';

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults and coerces strings to the schema types', () => {
    const config = loadConfig(GatewayEnv, {
      INGEST_API_KEY: SECRET_KEY,
      GATEWAY_PORT: '4010',
      GATEWAY_ALLOWED_MODELS: 'gpt-4o, claude-sonnet ,,',
      GATEWAY_RETRY_DELAYS_MS: '[1, 2, 3]',
      GATEWAY_BLOCK_UNKNOWN: 'YES',
      GATEWAY_PROVIDERS: '{"default":"openai"}',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      GATEWAY_PORT: 4010,
      GATEWAY_PARTITIONS: 16,
      GATEWAY_ALLOWED_MODELS: ['gpt-4o', 'claude-sonnet'],
      GATEWAY_RETRY_DELAYS_MS: [1, 2, 3],
      GATEWAY_BLOCK_UNKNOWN: true,
      GATEWAY_PROVIDERS: { default: 'openai' },
      LOG_LEVEL: 'debug',
      LOG_FORMAT: 'auto',
      HOST: '0.0.0.0',
      SHUTDOWN_TIMEOUT_MS: 25_000,
      BODY_LIMIT_BYTES: 10 * 1024 * 1024,
      LLM_UPSTREAM_URL: 'https://api.openai.com',
    });
    expect(config.NATS_URL).toBeUndefined();
    expect(config.INGEST_API_KEY).toBe(SECRET_KEY);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('treats empty strings as unset, so defaults apply and required variables are reported', () => {
    const error = configError(() => loadConfig(GatewayEnv, { INGEST_API_KEY: '  ', GATEWAY_PORT: '' }));
    expect(error.issues).toEqual([{ variable: 'INGEST_API_KEY', problem: 'is required' }]);
  });

  it('lists every invalid or missing variable in one error, with what each must be', () => {
    const error = configError(() =>
      loadConfig(GatewayEnv, {
        GATEWAY_PORT: 'abc',
        LOG_LEVEL: 'loud',
        LOG_FORMAT: 'xml',
        GATEWAY_PARTITIONS: '0',
        GATEWAY_BLOCK_UNKNOWN: 'maybe',
        GATEWAY_RETRY_DELAYS_MS: '5,-1',
        NATS_URL: 'localhost 4222',
        GATEWAY_PROVIDERS: '{not json',
      }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
    expect(error.issues.map((issue) => issue.variable)).toEqual([
      'LOG_LEVEL',
      'LOG_FORMAT',
      'GATEWAY_PORT',
      'NATS_URL',
      'INGEST_API_KEY',
      'GATEWAY_PARTITIONS',
      'GATEWAY_RETRY_DELAYS_MS',
      'GATEWAY_BLOCK_UNKNOWN',
      'GATEWAY_PROVIDERS',
    ]);
    expect(error.message).toMatch(/^invalid configuration: /);
    expect(error.message).toContain("GATEWAY_PORT: must be an integer 0..65535 (got 'abc')");
    expect(error.message).toContain(
      "LOG_LEVEL: must be one of fatal|error|warn|info|debug|trace|silent (got 'loud')",
    );
    expect(error.message).toContain("LOG_FORMAT: must be one of json|pretty|auto (got 'xml')");
    expect(error.message).toContain("GATEWAY_PARTITIONS: must be an integer 1..1024 (got '0')");
    expect(error.message).toContain("GATEWAY_BLOCK_UNKNOWN: must be true or false (got 'maybe')");
    expect(error.message).toContain(
      'GATEWAY_RETRY_DELAYS_MS: must be a comma-separated list; each item must be',
    );
    expect(error.message).toContain("NATS_URL: must be a URL (scheme://host...) (got 'localhost 4222')");
    expect(error.message).toContain('INGEST_API_KEY: is required');
    expect(error.message).toContain('GATEWAY_PROVIDERS: must be a JSON object');
  });

  it('never shows the value of a secret variable in errors', () => {
    const error = configError(() =>
      loadConfig(GatewayEnv, {
        INGEST_API_KEY: 'short',
        DATABASE_URL: `not a url ${DB_PASSWORD}`,
        GATEWAY_PORT: 'x',
      }),
    );
    expect(error.issues.map((issue) => issue.variable)).toEqual([
      'GATEWAY_PORT',
      'DATABASE_URL',
      'INGEST_API_KEY',
    ]);
    expect(error.message).toContain('INGEST_API_KEY: must be a string of 8..∞ characters');
    expect(error.message).toContain('DATABASE_URL: must be a URL');
    for (const text of [error.message, error.stack ?? '', JSON.stringify(error.issues), inspect(error)]) {
      expect(text).not.toContain('short');
      expect(text).not.toContain(DB_PASSWORD);
    }
  });

  it('masks credentials inside URLs of variables that are not marked secret', () => {
    const error = configError(() =>
      loadConfig(GatewayEnv, { NATS_URL: 'nats://svc:t0ken@nats host', INGEST_API_KEY: SECRET_KEY }),
    );
    expect(error.message).toContain(
      "NATS_URL: must be a URL (scheme://host...) (got 'nats://***@nats host')",
    );
    expect(error.message).not.toContain('t0ken');
  });

  it('lets a schema override the message', () => {
    const schema = Type.Object({ MODE: Type.String({ pattern: '^(a|b)$', errorMessage: 'must be a or b' }) });
    expect(() => loadConfig(schema, { MODE: 'c' })).toThrow(
      "invalid configuration: MODE: must be a or b (got 'c')",
    );
  });

  it('coerces to the first union branch that accepts the value', () => {
    const schema = Type.Object({
      WORKERS: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1 })], { default: 'auto' }),
    });
    expect(loadConfig(schema, { WORKERS: '4' }).WORKERS).toBe(4);
    expect(loadConfig(schema, { WORKERS: 'auto' }).WORKERS).toBe('auto');
    expect(loadConfig(schema, {}).WORKERS).toBe('auto');
    expect(() => loadConfig(schema, { WORKERS: 'many' })).toThrow(
      "WORKERS: must be auto or an integer >= 1 (got 'many')",
    );
  });

  it('reads process.env by default', () => {
    const schema = Type.Object({ RUNTIME_TEST_FLAG: Type.Boolean({ default: false }) });
    process.env.RUNTIME_TEST_FLAG = 'on';
    try {
      expect(loadConfig(schema).RUNTIME_TEST_FLAG).toBe(true);
    } finally {
      delete process.env.RUNTIME_TEST_FLAG;
    }
  });
});

describe('describeConfig and serialising a loaded config', () => {
  const config = loadConfig(GatewayEnv, {
    INGEST_API_KEY: SECRET_KEY,
    DATABASE_URL: `postgres://immune:${DB_PASSWORD}@db:5432/immune`,
    NATS_URL: 'nats://svc:natspass@nats:4222',
  });

  it('replaces secrets and URL passwords, and leaves unset variables out', () => {
    const view = describeConfig(GatewayEnv, config);
    expect(view.INGEST_API_KEY).toBe('[redacted]');
    expect(view.DATABASE_URL).toBe('[redacted]');
    expect(view.NATS_URL).toBe('nats://svc:***@nats:4222');
    expect(view.GATEWAY_PORT).toBe(4000);
    expect('GATEWAY_ALLOWED_MODELS' in view).toBe(false);
  });

  it('redacts when the config object itself is logged or inspected', () => {
    for (const text of [JSON.stringify(config), inspect(config), JSON.stringify({ config })]) {
      expect(text).not.toContain(SECRET_KEY);
      expect(text).not.toContain(DB_PASSWORD);
      expect(text).not.toContain('natspass');
      expect(text).toContain('GATEWAY_PORT');
    }
  });
});

describe('loadConfigOrExit', () => {
  it('writes one fatal JSON line listing the problems, without secrets, and exits 1', () => {
    const lines: string[] = [];
    const exit = (code: number): never => {
      throw new Error(`exit ${code}`);
    };
    expect(() =>
      loadConfigOrExit(GatewayEnv, {
        service: 'gateway',
        env: { GATEWAY_PORT: '99999', INGEST_API_KEY: 'tiny' },
        destination: { write: (line: string) => void lines.push(line) },
        exit,
      }),
    ).toThrow('exit 1');
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? '');
    expect(line).toMatchObject({ level: 'fatal', service: 'gateway', event: 'config-invalid' });
    expect(line.msg).toContain("GATEWAY_PORT: must be an integer 0..65535 (got '99999')");
    expect(line.issues).toHaveLength(2);
    expect(lines[0]).not.toContain('tiny');
  });

  it('returns the config when it is valid', () => {
    const config = loadConfigOrExit(GatewayEnv, { service: 'gateway', env: { INGEST_API_KEY: SECRET_KEY } });
    expect(config.GATEWAY_PORT).toBe(4000);
  });
});
