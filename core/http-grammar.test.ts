import { describe, expect, it } from 'vitest';
import { decimal } from './http-grammar.js';

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
