import { describe, expect, it } from 'vitest';
import { booleanArrayLiteral, numberArrayLiteral, textArrayLiteral } from './array-literals.js';

describe('array literals', () => {
  it('quotes every text element and escapes only quotes and backslashes', () => {
    expect(textArrayLiteral(['a', '', 'NULL', 'x,y', '{z}', ' s ', null, undefined])).toBe(
      '{"a","","NULL","x,y","{z}"," s ",NULL,NULL}',
    );
    expect(textArrayLiteral(['say "hi"', 'C:\\path'])).toBe('{"say \\"hi\\"","C:\\\\path"}');
    expect(textArrayLiteral([])).toBe('{}');
  });

  it('replaces NUL, which PostgreSQL text cannot hold', () => {
    expect(textArrayLiteral([`a${String.fromCharCode(0)}b`])).toBe('{"a\uFFFDb"}');
  });

  it('prints numbers and booleans bare', () => {
    expect(numberArrayLiteral([1, 0.1, 1_700_000_000_123, null])).toBe('{1,0.1,1700000000123,NULL}');
    expect(booleanArrayLiteral([true, false, undefined])).toBe('{t,f,NULL}');
  });
});
