import { hashOperatorToken, OperatorTokens, parseOperatorTokenLines } from '@immune/runtime/auth';
import { describe, expect, it } from 'vitest';
import { memoryIO } from '../../../test/fixtures.js';
import { run } from '../../cli.js';

describe('immune token create', () => {
  it('prints a new token once on stdout and the hash-only line to configure on stderr', async () => {
    const io = memoryIO();
    expect(await run(['token', 'create', '--name', 'alice', '--role', 'operator'], io)).toBe(0);
    const token = io.out().trim();
    expect(token).toMatch(/^imo_[A-Za-z0-9_-]{43}$/);
    const line = io.err().trim().split('\n').at(-1)!;
    expect(line).toBe(`alice:operator:${hashOperatorToken(token)}`);
    expect(io.err()).not.toContain(token);
    // The line is what the services read: it names alice for exactly that token.
    expect(new OperatorTokens(parseOperatorTokenLines(line, 'test')).verify(token)).toEqual({
      name: 'alice',
      role: 'operator',
    });
  });

  it('answers --json, and refuses a bad name, role or action with exit 2', async () => {
    const io = memoryIO();
    expect(await run(['token', 'create', '--name', 'ops-tv', '--role', 'viewer', '--json'], io)).toBe(0);
    const minted = JSON.parse(io.out()) as { name: string; role: string; token: string; line: string };
    expect(minted).toMatchObject({ name: 'ops-tv', role: 'viewer' });
    expect(minted.line).toBe(`ops-tv:viewer:${hashOperatorToken(minted.token)}`);
    for (const [argv, message] of [
      [['token', 'create', '--name', 'a:b', '--role', 'viewer'], /--name must be/],
      [['token', 'create', '--name', 'bob', '--role', 'admin'], /--role must be one of viewer, operator/],
      [['token', 'list'], /the action is create/],
    ] as const) {
      const bad = memoryIO();
      expect(await run([...argv], bad)).toBe(2);
      expect(bad.err()).toMatch(message);
    }
  });
});
