/**
 * JSON text of a plain value as a list of pieces whose concatenation is `JSON.stringify(value)`, without ever
 * building the whole text: a long string that needs no escaping is its own piece, the very string already held
 * (so writing it to a socket copies it into native memory once, and no second copy lands on the JS heap). Only
 * for plain data (objects, arrays, strings, finite numbers, booleans, null), as stored objects are.
 */

/** Strings at least this long that need no escaping are passed through as pieces of their own. */
const LONG = 4096;
/** Characters JSON.stringify would escape (or, for lone surrogates, rewrite). */
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

export function jsonPieces(value: unknown): string[] {
  const out: string[] = [];
  let small = '';
  const push = (s: string): void => {
    small += s;
  };
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.length >= LONG && !NEEDS_ESCAPE.test(v)) {
        out.push(`${small}"`);
        out.push(v);
        small = '"';
      } else push(JSON.stringify(v));
      return;
    }
    if (v === null || typeof v !== 'object') {
      push(JSON.stringify(v) ?? 'null');
      return;
    }
    if (Array.isArray(v)) {
      push('[');
      v.forEach((x, i) => {
        if (i > 0) push(',');
        walk(x === undefined || typeof x === 'function' ? null : x);
      });
      push(']');
      return;
    }
    push('{');
    let first = true;
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined || typeof x === 'function') continue;
      push(`${first ? '' : ','}${JSON.stringify(k)}:`);
      first = false;
      walk(x);
    }
    push('}');
  };
  walk(value);
  if (small) out.push(small);
  return out;
}
