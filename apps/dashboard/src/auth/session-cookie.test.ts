import { hashOperatorToken, OperatorTokens } from '@immune/runtime';
import { describe, expect, it } from 'vitest';
import { OperatorDirectory } from './operators.js';
import { SessionCodec } from './session-cookie.js';

const tokens = (entries: Array<[string, 'viewer' | 'operator', string]>) =>
  new OperatorTokens(entries.map(([name, role, token]) => ({ name, role, hash: hashOperatorToken(token) })));
const directory = new OperatorDirectory(
  tokens([
    ['alice', 'operator', 'alice-token-0123456789'],
    ['victor', 'viewer', 'victor-token-012345678'],
  ]),
);

describe('OperatorDirectory', () => {
  it('finds a holder by token, and nobody for a near miss', () => {
    const alice = directory.byToken('alice-token-0123456789')!;
    expect(alice).toMatchObject({ name: 'alice', role: 'operator', token: 'alice-token-0123456789' });
    expect(directory.byToken('alice-token-012345678')).toBeUndefined();
    expect(directory.byToken(hashOperatorToken('alice-token-0123456789'))).toBeUndefined();
  });
});

describe('SessionCodec', () => {
  const alice = directory.byToken('alice-token-0123456789')!;

  it('verifies what it issued until it expires, and carries the token only sealed', () => {
    const codec = new SessionCodec('s'.repeat(32), 60_000);
    const { value } = codec.issue(alice, 1000);
    const decoded = Buffer.from(value.split('.')[0]!, 'base64url').toString();
    for (const text of [value, decoded]) {
      expect(text).not.toContain(alice.token);
      expect(text).not.toContain(Buffer.from(alice.token).toString('base64'));
      expect(text).not.toContain(Buffer.from(alice.token).toString('base64url'));
    }
    const claims = codec.verify(value, 2000)!;
    expect(claims).toMatchObject({ sub: 'alice', exp: 61_000 });
    expect(codec.tokenOf(claims)).toBe(alice.token);
    // Another dashboard key cannot unseal it, nor can a tampered seal be opened.
    expect(new SessionCodec('t'.repeat(32), 60_000).tokenOf(claims)).toBeUndefined();
    expect(codec.tokenOf({ ...claims, tk: `${claims.tk.slice(0, -2)}AA` })).toBeUndefined();
    expect(codec.verify(value, 61_000)).toBeUndefined();
  });

  it('refuses a cookie signed with another key, tampered with, or malformed', () => {
    const codec = new SessionCodec('s'.repeat(32), 60_000);
    const { value } = codec.issue(alice, 1000);
    expect(new SessionCodec('t'.repeat(32), 60_000).verify(value, 2000)).toBeUndefined();
    const [body, signature] = value.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const longer = Buffer.from(JSON.stringify({ ...claims, exp: claims.exp * 10 })).toString('base64url');
    expect(codec.verify(`${longer}.${signature}`, 2000)).toBeUndefined();
    for (const junk of [
      '',
      '.',
      'abc',
      `${body}.`,
      `.${signature}`,
      `${body}.${signature}x`,
      'x'.repeat(5000),
    ]) {
      expect(codec.verify(junk, 2000)).toBeUndefined();
    }
    const notJson = Buffer.from('not json').toString('base64url');
    expect(codec.verify(`${notJson}.${signature}`, 2000)).toBeUndefined();
  });

  it('makes a random key per process when none is configured', () => {
    const a = new SessionCodec(undefined, 60_000);
    const b = new SessionCodec(undefined, 60_000);
    expect(b.verify(a.issue(alice, 1).value, 2)).toBeUndefined();
  });
});
