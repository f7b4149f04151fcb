/**
 * Label and field selectors with Kubernetes' string syntax:
 * labels `a=b,c!=d,e in (f,g),h notin (i),j,!k`; fields `metadata.name=x,metadata.namespace!=y`.
 */
import { isObject } from './types.js';

export type Requirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | 'notexists'; key: string };

export class SelectorError extends Error {}

/** Splits on commas that are not inside parentheses. */
function splitTerms(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t !== '');
}

export function parseLabelSelector(s: string): Requirement[] {
  const reqs: Requirement[] = [];
  for (const term of splitTerms(s)) {
    let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      reqs.push({ op: m[2] as 'in' | 'notin', key: m[1]!, values });
      continue;
    }
    m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s,]*)$/.exec(term);
    if (m) {
      reqs.push({ op: m[2] === '!=' ? 'neq' : 'eq', key: m[1]!, value: m[3]! });
      continue;
    }
    m = /^(!?)([^\s!=()]+)$/.exec(term);
    if (m) {
      reqs.push({ op: m[1] === '!' ? 'notexists' : 'exists', key: m[2]! });
      continue;
    }
    throw new SelectorError(`unable to parse requirement: ${term}`);
  }
  return reqs;
}

export function matchesLabels(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'eq':
        return has && l[r.key] === r.value;
      case 'neq':
        return !has || l[r.key] !== r.value;
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

export interface FieldRequirement {
  path: string[];
  value: string;
  negate: boolean;
}

export function parseFieldSelector(s: string): FieldRequirement[] {
  return splitTerms(s).map((term) => {
    const m = /^([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw new SelectorError(`invalid field selector: ${term}`);
    return { path: m[1]!.split('.'), value: m[3]!, negate: m[2] === '!=' };
  });
}

export function matchesFields(reqs: FieldRequirement[], obj: unknown): boolean {
  return reqs.every((r) => {
    let cur: unknown = obj;
    for (const p of r.path) cur = isObject(cur) ? cur[p] : undefined;
    const actual = cur === undefined || cur === null ? '' : String(cur);
    return r.negate ? actual !== r.value : actual === r.value;
  });
}

/** A Deployment/Service `matchLabels` + `matchExpressions` selector object against labels. */
export function matchesLabelSelectorObject(sel: unknown, labels: Record<string, string> | undefined): boolean {
  if (!isObject(sel)) return false;
  const reqs: Requirement[] = [];
  if (isObject(sel['matchLabels'])) {
    for (const [k, v] of Object.entries(sel['matchLabels'])) reqs.push({ op: 'eq', key: k, value: String(v) });
  }
  if (Array.isArray(sel['matchExpressions'])) {
    for (const e of sel['matchExpressions']) {
      if (!isObject(e)) continue;
      const key = String(e['key']);
      const values = Array.isArray(e['values']) ? e['values'].map(String) : [];
      const op = String(e['operator']);
      if (op === 'In') reqs.push({ op: 'in', key, values });
      else if (op === 'NotIn') reqs.push({ op: 'notin', key, values });
      else if (op === 'Exists') reqs.push({ op: 'exists', key });
      else if (op === 'DoesNotExist') reqs.push({ op: 'notexists', key });
    }
  }
  if (reqs.length === 0) return false;
  return matchesLabels(reqs, labels);
}

/** Renders a `matchLabels` map as a selector string (`a=b,c=d`), as the Scale subresource reports it. */
export function selectorString(sel: unknown): string {
  if (!isObject(sel) || !isObject(sel['matchLabels'])) return '';
  return Object.entries(sel['matchLabels'])
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}
