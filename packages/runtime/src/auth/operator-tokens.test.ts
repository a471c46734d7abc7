import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authorizeOperator, OperatorAuthError } from './authorize.js';
import {
  hashOperatorToken,
  mintOperatorToken,
  OperatorTokens,
  operatorTokenLine,
  parseOperatorTokenLines,
} from './operator-tokens.js';
import { loadOperatorTokens } from './operator-tokens-env.js';

const alice = mintOperatorToken();
const victor = mintOperatorToken();
const lines = [
  operatorTokenLine({ name: 'alice', role: 'operator', hash: hashOperatorToken(alice) }),
  operatorTokenLine({ name: 'victor', role: 'viewer', hash: hashOperatorToken(victor) }),
];

describe('operator tokens', () => {
  it('mints distinct high-entropy tokens whose configuration line holds only the hash', () => {
    expect(alice).toMatch(/^imo_[A-Za-z0-9_-]{43}$/);
    expect(alice).not.toBe(victor);
    expect(lines[0]).toBe(`alice:operator:${hashOperatorToken(alice)}`);
    expect(lines.join('\n')).not.toContain(alice.slice(4));
  });

  it('names the holder of a configured token, and nobody for anything else', () => {
    const tokens = new OperatorTokens(parseOperatorTokenLines(lines.join(','), 'test'));
    expect(tokens.verify(alice)).toEqual({ name: 'alice', role: 'operator' });
    expect(tokens.verify(victor)).toEqual({ name: 'victor', role: 'viewer' });
    expect(tokens.verify(undefined)).toBeUndefined();
    expect(tokens.verify('')).toBeUndefined();
    expect(tokens.verify(hashOperatorToken(alice))).toBeUndefined();
    expect(tokens.verify('x'.repeat(10_000))).toBeUndefined();
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (presented) => {
        expect(tokens.verify(presented)).toBeUndefined();
      }),
      { seed: 19, numRuns: 300 },
    );
  });

  it('reads comments, blank lines and several separators; refuses bad entries without echoing them', () => {
    const text = `# operators\n${lines[0]}  # alice\n\n${lines[1]}\n`;
    expect(parseOperatorTokenLines(text, 'tokens.txt').map((e) => e.name)).toEqual(['alice', 'victor']);
    expect(() => parseOperatorTokenLines(`alice:operator:${alice}`, 'ENV')).toThrow(
      /^ENV, entry 1: the hash must be 64 lowercase hex digits/,
    );
    try {
      parseOperatorTokenLines(`alice:operator:${alice}`, 'ENV');
    } catch (error) {
      expect((error as Error).message).not.toContain(alice);
    }
    expect(() => parseOperatorTokenLines(`bob:admin:${'a'.repeat(64)}`, 'ENV')).toThrow(
      /role must be one of/,
    );
    expect(() => parseOperatorTokenLines(`x\n:operator:${'a'.repeat(64)}`, 'f')).toThrow(
      /^f line 1, entry 1/,
    );
    expect(() => new OperatorTokens(parseOperatorTokenLines(`${lines[0]},${lines[0]}`, 'ENV'))).toThrow(
      /alice is used twice/,
    );
  });

  it('loads the env list and the file together', () => {
    const dir = mkdtempSync(join(tmpdir(), 'optokens-'));
    const file = join(dir, 'tokens');
    writeFileSync(file, `${lines[1]}\n`);
    const tokens = loadOperatorTokens({
      IMMUNE_OPERATOR_TOKENS: lines[0]!,
      IMMUNE_OPERATOR_TOKENS_FILE: file,
    });
    expect(tokens.size).toBe(2);
    expect(() =>
      loadOperatorTokens({ IMMUNE_OPERATOR_TOKENS: '', IMMUNE_OPERATOR_TOKENS_FILE: join(dir, 'missing') }),
    ).toThrow(/IMMUNE_OPERATOR_TOKENS_FILE .*missing/);
  });

  it('lets viewers read, only operators decide, and refuses a missing or unknown token by code', () => {
    const tokens = new OperatorTokens(parseOperatorTokenLines(lines.join(' '), 'test'));
    expect(authorizeOperator(tokens, victor, 'viewer', 'healer.approvals')).toEqual({
      name: 'victor',
      role: 'viewer',
    });
    expect(authorizeOperator(tokens, alice, 'operator', 'healer.approve').name).toBe('alice');
    const refusal = (token: string | undefined, needs: 'viewer' | 'operator') => {
      try {
        authorizeOperator(tokens, token, needs, 'healer.approve');
      } catch (error) {
        expect(error).toBeInstanceOf(OperatorAuthError);
        return { code: (error as OperatorAuthError).code, message: (error as Error).message };
      }
      throw new Error('not refused');
    };
    expect(refusal(victor, 'operator')).toEqual({
      code: 'forbidden',
      message: 'healer.approve needs the operator role; victor is a viewer',
    });
    expect(refusal(undefined, 'viewer').code).toBe('unauthenticated');
    const wrong = refusal(`${alice}x`, 'viewer');
    expect(wrong).toEqual({
      code: 'unauthenticated',
      message: 'healer.approve: the operator token is not valid here',
    });
    expect(() => authorizeOperator(new OperatorTokens([]), alice, 'viewer', 'healer.agents')).toThrow(
      /no operator tokens are configured here/,
    );
  });
});
