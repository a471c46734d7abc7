import { describe, expect, it } from 'vitest';
import { compileChecker } from './schema.js';
import { testVital } from './testing.js';
import { Vital } from './vital.js';

describe('compileChecker', () => {
  const checker = compileChecker(Vital);

  it('accepts a valid vital', () => {
    expect(checker.check(testVital())).toBe(true);
    expect(checker.issues(testVital())).toEqual([]);
  });

  it('names every field that is wrong, once each', () => {
    const bad = { ...testVital(), input_tokens: -5, success: 'yes', extra: 1 } as Record<string, unknown>;
    delete bad.agent_id;
    expect(checker.check(bad)).toBe(false);
    const issues = checker.issues(bad);
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: '/agent_id', message: 'is required' },
        { path: '/extra', message: 'is not a known field' },
        { path: '/input_tokens', message: 'must be >= 0' },
        { path: '/success', message: expect.stringMatching(/boolean/) },
      ]),
    );
    expect(new Set(issues.map((i) => i.path)).size).toBe(issues.length);
  });
});
