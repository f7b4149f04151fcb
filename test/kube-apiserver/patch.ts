/**
 * Patch formats the API server accepts: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * strategic merge patch, which here merges lists of objects by `name` (containers, ports, env, volumes)
 * and otherwise behaves as a merge patch — enough for the fields Sluice patches.
 */
import { clone, isObject } from './types.js';

export class PatchError extends Error {}

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (Array.isArray(patch) && Array.isArray(target)) {
    const named = (xs: unknown[]) => xs.every((x) => isObject(x) && typeof x['name'] === 'string');
    if (patch.length > 0 && named(patch) && named(target)) {
      const out = target.map((x) => clone(x));
      for (const p of patch as Record<string, unknown>[]) {
        if (p['$patch'] === 'delete') {
          const i = out.findIndex((x) => (x as Record<string, unknown>)['name'] === p['name']);
          if (i >= 0) out.splice(i, 1);
          continue;
        }
        const i = out.findIndex((x) => (x as Record<string, unknown>)['name'] === p['name']);
        if (i >= 0) out[i] = strategicMergePatch(out[i], p);
        else out.push(clone(p));
      }
      return out;
    }
    return clone(patch);
  }
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v);
  }
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new PatchError(`invalid JSON pointer: ${p}`);
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, path: string[]): unknown {
  let cur = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObject(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function parentOf(doc: unknown, path: string[], opName: string): { parent: unknown; key: string } {
  if (path.length === 0) throw new PatchError(`${opName}: cannot operate on the document root`);
  const parent = getAt(doc, path.slice(0, -1));
  if (!isObject(parent) && !Array.isArray(parent)) {
    throw new PatchError(`${opName}: missing path ${'/' + path.slice(0, -1).join('/')}`);
  }
  return { parent, key: path[path.length - 1]! };
}

function remove(doc: unknown, path: string[]): unknown {
  const { parent, key } = parentOf(doc, path, 'remove');
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!(i >= 0 && i < parent.length)) throw new PatchError(`remove: index out of range ${key}`);
    return parent.splice(i, 1)[0];
  }
  const obj = parent as Record<string, unknown>;
  if (!(key in obj)) throw new PatchError(`remove: missing path /${path.join('/')}`);
  const v = obj[key];
  delete obj[key];
  return v;
}

function add(doc: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return clone(value);
  const { parent, key } = parentOf(doc, path, 'add');
  if (Array.isArray(parent)) {
    const i = key === '-' ? parent.length : Number(key);
    if (!(i >= 0 && i <= parent.length)) throw new PatchError(`add: index out of range ${key}`);
    parent.splice(i, 0, clone(value));
  } else (parent as Record<string, unknown>)[key] = clone(value);
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('JSON patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops as JsonPatchOp[]) {
    const path = parsePointer(raw.path);
    switch (raw.op) {
      case 'add':
        doc = add(doc, path, raw.value);
        break;
      case 'remove':
        remove(doc, path);
        break;
      case 'replace':
        if (path.length === 0) doc = clone(raw.value);
        else {
          if (getAt(doc, path) === undefined) throw new PatchError(`replace: missing path ${raw.path}`);
          remove(doc, path);
          doc = add(doc, path, raw.value);
        }
        break;
      case 'move': {
        const v = remove(doc, parsePointer(raw.from ?? ''));
        doc = add(doc, path, v);
        break;
      }
      case 'copy':
        doc = add(doc, path, getAt(doc, parsePointer(raw.from ?? '')));
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(raw.value)) {
          throw new PatchError(`test failed at ${raw.path}`);
        }
        break;
      default:
        throw new PatchError(`unknown JSON patch op: ${String(raw.op)}`);
    }
  }
  return doc;
}
