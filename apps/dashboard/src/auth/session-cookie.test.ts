import { describe, expect, it } from 'vitest';
import { OperatorDirectory } from './operators.js';
import { SessionCodec } from './session-cookie.js';

const directory = new OperatorDirectory([
  { name: 'alice', role: 'operator', token: 'alice-token-0123456789' },
  { name: 'victor', role: 'viewer', token: 'victor-token-012345678' },
]);

describe('OperatorDirectory', () => {
  it('finds a holder by token and by session, and forgets sessions of a rotated token', () => {
    const alice = directory.byToken('alice-token-0123456789')!;
    expect(alice).toMatchObject({ name: 'alice', role: 'operator', token: 'alice-token-0123456789' });
    expect(directory.byToken('alice-token-012345678')).toBeUndefined();
    expect(directory.bySession('alice', alice.fingerprint)?.name).toBe('alice');
    const rotated = new OperatorDirectory([
      { name: 'alice', role: 'operator', token: 'alice-new-token-98765' },
    ]);
    expect(rotated.bySession('alice', alice.fingerprint)).toBeUndefined();
  });

  it('refuses a name or a token given twice', () => {
    expect(
      () =>
        new OperatorDirectory([
          { name: 'a', role: 'viewer', token: 'x'.repeat(16) },
          { name: 'a', role: 'viewer', token: 'y'.repeat(16) },
        ]),
    ).toThrow(/name a/);
    expect(
      () =>
        new OperatorDirectory([
          { name: 'a', role: 'viewer', token: 'x'.repeat(16) },
          { name: 'b', role: 'operator', token: 'x'.repeat(16) },
        ]),
    ).toThrow(/also another/);
  });
});

describe('SessionCodec', () => {
  const alice = directory.byToken('alice-token-0123456789')!;

  it('verifies what it issued until it expires, and never carries the token', () => {
    const codec = new SessionCodec('s'.repeat(32), 60_000);
    const { value } = codec.issue(alice, 1000);
    expect(value).not.toContain(alice.token);
    expect(codec.verify(value, 2000)).toMatchObject({ sub: 'alice', fp: alice.fingerprint, exp: 61_000 });
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
