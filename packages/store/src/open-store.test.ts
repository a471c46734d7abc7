import { describe, expect, it } from 'vitest';
import { assertSchemaName, openStore } from './open-store.js';

describe('schema names', () => {
  it('accepts plain identifiers only, since they go into SQL and a connection option', () => {
    expect(() => assertSchemaName('immune_test_0a1b')).not.toThrow();
    expect(() => assertSchemaName('Tenant42')).not.toThrow();
    for (const bad of ['', '1abc', 'a-b', 'a b', 'x"; drop table agents; --', 'a'.repeat(64), 'a,public']) {
      expect(() => assertSchemaName(bad), bad).toThrow(RangeError);
    }
  });

  it('refuses a bad schema before connecting anywhere', async () => {
    await expect(openStore({ databaseUrl: 'postgres://nowhere.invalid/db', schema: 'a;b' })).rejects.toThrow(
      RangeError,
    );
  });
});
