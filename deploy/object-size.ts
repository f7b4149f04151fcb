/**
 * The bound on one stored object's size (the setting maxObjectBytes). Every list answer and every status read
 * copies a stored object, so its size is what a list of N objects costs; a bound keeps that predictable.
 */
import { ValidationError } from '../core/errors.js';
import { formatPath } from '../api/issues.js';

/** Serialized (JSON, UTF-8) size of a value in bytes. */
export function serializedBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '');
}

/**
 * Throws a ValidationError (422) when `object` serializes to more than `limit` bytes. The issue names the
 * largest field (walking down while one field holds most of the bytes), so the user knows what to shrink.
 */
export function checkObjectSize(object: unknown, limit: number, kind: string, name: string): void {
  const size = serializedBytes(object);
  if (size <= limit) return;
  const { path, bytes } = largestField(object);
  const where = path.length === 0 ? '(object)' : formatPath(path);
  throw new ValidationError(
    [
      {
        path: where,
        message: `the ${kind} is ${size} bytes serialized, over the limit of ${limit} bytes (the setting maxObjectBytes)${
          path.length === 0 ? '' : `; ${where} alone is ${bytes} bytes`
        }`,
      },
    ],
    `${kind} "${name}" is too large`,
  );
}

/** Walks to the biggest child while it holds at least half of its parent's bytes (at most 6 levels). */
function largestField(root: unknown): { path: Array<string | number>; bytes: number } {
  const path: Array<string | number> = [];
  let cur = root;
  let bytes = serializedBytes(root);
  for (let depth = 0; depth < 6 && cur !== null && typeof cur === 'object'; depth++) {
    let best: { key: string | number; value: unknown; bytes: number } | null = null;
    const entries: Array<[string | number, unknown]> = Array.isArray(cur) ? cur.map((v, i) => [i, v]) : Object.entries(cur);
    for (const [key, value] of entries) {
      const b = serializedBytes(value);
      if (!best || b > best.bytes) best = { key, value, bytes: b };
    }
    if (!best || best.bytes * 2 < bytes) break;
    path.push(best.key);
    cur = best.value;
    bytes = best.bytes;
  }
  return { path, bytes };
}
