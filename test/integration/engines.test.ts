/**
 * `npm ci` warns (EBADENGINE) when a locked package's `engines.node` excludes the running Node. Every package in
 * package-lock.json must accept the oldest Node that package.json declares, so a user on that Node sees no warning.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLUICE_ROOT } from '../support/paths.js';

type Version = [number, number, number];

/** `20`, `20.19`, `20.x`, `12.*` → the lowest version the text names, and how many parts are fixed. */
function parseVersion(text: string): { v: Version; fixed: number } {
  const parts = text.replace(/^v/, '').split('.');
  const nums: number[] = [];
  for (const p of parts) {
    if (p === 'x' || p === 'X' || p === '*' || p === '') break;
    nums.push(Number(p));
  }
  return { v: [nums[0] ?? 0, nums[1] ?? 0, nums[2] ?? 0], fixed: nums.length };
}

function compare(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** One comparator of a range (`>=20.19.0`, `^18`, `10.*`, `4.x`). */
function comparatorAccepts(c: string, v: Version): boolean {
  const m = /^(>=|<=|>|<|\^|~|=)?(.*)$/.exec(c)!;
  const op = m[1] ?? '';
  const { v: w, fixed } = parseVersion(m[2]!);
  switch (op) {
    case '>=':
      return compare(v, w) >= 0;
    case '>':
      return compare(v, w) > 0;
    case '<':
      return compare(v, w) < 0;
    case '<=':
      return compare(v, w) <= 0;
    case '^':
      return compare(v, w) >= 0 && (w[0] > 0 ? v[0] === w[0] : v[1] === w[1]);
    case '~':
      return compare(v, w) >= 0 && v[0] === w[0] && (fixed < 2 || v[1] === w[1]);
    default:
      return v.slice(0, fixed).every((n, i) => n === w[i]);
  }
}

/** Whether a Node version satisfies an `engines.node` range (the forms npm packages use). */
export function rangeAccepts(range: string, v: Version): boolean {
  return range.split('||').some((alt) => {
    const comparators = alt.trim().replace(/(>=|<=|>|<|\^|~|=)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return comparators.length === 0 || comparators.every((c) => c === '*' || comparatorAccepts(c, v));
  });
}

describe('engines', () => {
  it('reads the ranges packages use', () => {
    expect(rangeAccepts('>=22', [20, 19, 0])).toBe(false);
    expect(rangeAccepts('^20.19.0 || >=22.12.0', [20, 18, 1])).toBe(false);
    expect(rangeAccepts('^20.19.0 || >=22.12.0', [20, 19, 0])).toBe(true);
    expect(rangeAccepts('>= 20.16.0', [20, 19, 0])).toBe(true);
    expect(rangeAccepts('10.* || >= 12.*', [20, 19, 0])).toBe(true);
    expect(rangeAccepts('^16 || ^18 || >=20', [20, 19, 0])).toBe(true);
    expect(rangeAccepts('^16 || ^18', [20, 19, 0])).toBe(false);
  });

  it('every locked package accepts the oldest Node that package.json declares (npm ci prints no EBADENGINE)', () => {
    const pkg = JSON.parse(readFileSync(join(SLUICE_ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const floor = /^>=\s*(\d+\.\d+\.\d+)$/.exec(pkg.engines.node);
    expect(floor, `engines.node "${pkg.engines.node}" should be ">=X.Y.Z"`).not.toBeNull();
    const oldest = parseVersion(floor![1]!).v;
    const lock = JSON.parse(readFileSync(join(SLUICE_ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
    };
    const refusing = Object.entries(lock.packages).flatMap(([path, p]) => {
      const node = p.engines && !Array.isArray(p.engines) ? p.engines.node : undefined;
      return node !== undefined && !rangeAccepts(node, oldest) ? [`${path.replace(/^node_modules\//, '')}@${p.version ?? '?'} needs node ${node}`] : [];
    });
    expect(refusing).toEqual([]);
  });
});
