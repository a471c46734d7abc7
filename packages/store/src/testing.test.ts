import { describe, expect, it } from 'vitest';
import {
  DATABASE_URL_HELP,
  randomSchemaName,
  resolveTestDatabaseUrl,
  TestDatabaseUnavailableError,
} from './testing.js';

describe('resolveTestDatabaseUrl', () => {
  it('uses DATABASE_URL when it is set, without touching a container engine', async () => {
    const url = await resolveTestDatabaseUrl({
      env: { DATABASE_URL: 'postgres://postgres@db:5432/test' },
      startContainer: () => Promise.reject(new Error('must not be called')),
    });
    expect(url).toBe('postgres://postgres@db:5432/test');
  });

  it('falls back to a container when DATABASE_URL is unset', async () => {
    const url = await resolveTestDatabaseUrl({
      env: { DATABASE_URL: '' },
      startContainer: async () => 'postgres://test:test@localhost:32768/test',
    });
    expect(url).toBe('postgres://test:test@localhost:32768/test');
  });

  it('fails, never skips, and says how to provide a database when there is neither', async () => {
    const error = await resolveTestDatabaseUrl({
      env: {},
      startContainer: () => Promise.reject(new Error('Could not find a working container runtime strategy')),
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestDatabaseUnavailableError);
    expect((error as Error).message).toBe(DATABASE_URL_HELP);
    expect((error as Error).message).toContain('DATABASE_URL=postgres://postgres@127.0.0.1:5432/test');
    expect(((error as Error).cause as Error).message).toMatch(/container runtime/);
  });
});

describe('randomSchemaName', () => {
  it('gives a fresh plain identifier each time', () => {
    const names = new Set(Array.from({ length: 100 }, randomSchemaName));
    expect(names.size).toBe(100);
    for (const name of names) expect(name).toMatch(/^immune_test_[0-9a-f]{12}$/);
  });
});
