import { describe, expect, it } from 'vitest';
import { jsonPieces } from './json-pieces.js';

describe('jsonPieces', () => {
  it('concatenates to JSON.stringify, passing long plain strings through as their own piece', () => {
    const long = 'x'.repeat(10_000);
    const values: unknown[] = [
      { a: 1, b: [true, null, 'q"uote', { c: undefined, d: 2.5 }], e: long, f: `${long}"`, g: {}, h: [] },
      [undefined, long, 'é\u2028'],
      'plain',
      0,
      null,
      { lone: '\ud800'.repeat(5000) },
    ];
    for (const v of values) expect(jsonPieces(v).join('')).toBe(JSON.stringify(v));
    const pieces = jsonPieces({ e: long });
    expect(pieces).toContain(long);
  });
});
