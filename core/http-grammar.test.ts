import { describe, expect, it } from 'vitest';
import { decimal, nameIs, owsEnd } from './http-grammar.js';

describe('decimal (Content-Length values)', () => {
  it('reads 1 to 15 ASCII digits, leading zeros included', () => {
    expect(decimal('0')).toBe(0);
    expect(decimal('34')).toBe(34);
    expect(decimal('007')).toBe(7);
    expect(decimal('999999999999999')).toBe(999_999_999_999_999);
  });

  it('refuses anything else: empty, 16 digits, signs, spaces, exponents, hex, non-ASCII digits', () => {
    for (const v of ['', '1234567890123456', '+1', '-1', ' 1', '1 ', '1e3', '0x1', '1.0', '\u0663', '1,1']) expect(decimal(v), v).toBe(-1);
  });
});

describe('nameIs and owsEnd (field names and values read in place)', () => {
  it('nameIs compares a field name at an offset in any case, and only its length', () => {
    expect(nameIs('x: 1\r\nContent-Length: 2', 6, 'content-length')).toBe(true);
    expect(nameIs('CONNECTION', 0, 'connection')).toBe(true);
    expect(nameIs('Content-Lengths', 0, 'content-length')).toBe(true);
    expect(nameIs('Content_Length', 0, 'content-length')).toBe(false);
    expect(nameIs('upgrade', 1, 'upgrade')).toBe(false);
  });

  it('owsEnd drops trailing spaces and tabs only, never past the start', () => {
    const s = 'x: a b \t \r\n';
    expect(s.slice(3, owsEnd(s, 3, s.indexOf('\r')))).toBe('a b');
    expect(owsEnd('   ', 1, 3)).toBe(1);
    expect(owsEnd('ab', 0, 2)).toBe(2);
    expect(owsEnd('a\u000b', 0, 2)).toBe(2);
  });
});
