/**
 * HTTP's field grammar (RFC 9110 §5.1, §5.5), in one place for everything that writes or checks header fields:
 * the upstream client's requests, the data port's answers, the annotations that name header fields.
 */

/** A field name (a `token`). */
export const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The same token characters by byte (1 for one), for parsers that scan a head a character at a time. */
export const TOKEN_CHAR = new Uint8Array(256);
for (let c = 0; c < 128; c++) if (HTTP_TOKEN.test(String.fromCharCode(c))) TOKEN_CHAR[c] = 1;

/**
 * A character a field value may not carry: anything but tab, visible ASCII and obs-text (so no CR, LF, NUL or
 * other control character). The same rule as node:http's for the headers it writes.
 */
export const FIELD_VALUE_FORBIDDEN = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * The value of 1–15 ASCII digits, else -1. Counted here: `Number()` of a string first computes the string's hash
 * (it may be an array index), and a regular expression before it is a second pass.
 */
export function decimal(v: string): number {
  const len = v.length;
  if (len === 0 || len > 15) return -1;
  let x = 0;
  for (let i = 0; i < len; i++) {
    const d = v.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    x = x * 10 + d;
  }
  return x;
}

/**
 * Whether `s[at, at + lit.length)` is `lit` (lower-case letters, digits and `-`: a field name) in any case, read in
 * place: no string made. For a token in `s` (its characters can only match `lit`'s as themselves or upper-case).
 */
export function nameIs(s: string, at: number, lit: string): boolean {
  for (let k = 0; k < lit.length; k++) if ((s.charCodeAt(at + k) | 0x20) !== lit.charCodeAt(k)) return false;
  return true;
}

/** Where `s[from, to)` ends without the spaces and tabs at its end (a field value's trailing OWS). */
export function owsEnd(s: string, from: number, to: number): number {
  let e = to;
  while (e > from) {
    const c = s.charCodeAt(e - 1);
    if (c !== 0x20 && c !== 0x09) break;
    e--;
  }
  return e;
}
