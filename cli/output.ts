import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

// yaml is loaded on first use (a table needs none of it; loading it is ~40 ms of CPU in a CLI call). Node resolves
// both `import` and `require` of yaml to its CommonJS build, so this is the same module instance the rest uses.
const requireHere = createRequire(import.meta.url);
const yaml = (): typeof Yaml => requireHere('yaml') as typeof Yaml;

/** `table` is the default of list commands; `wide` is the table with more columns (kubectl's `-o wide`). */
export type OutputFormat = 'json' | 'yaml' | 'table' | 'wide';

export function checkFormat(o: string | undefined, allowTable: true): OutputFormat;
export function checkFormat(o: string | undefined, allowTable: false): 'json' | 'yaml';
export function checkFormat(o: string | undefined, allowTable: boolean): OutputFormat {
  if (o === undefined) return allowTable ? 'table' : 'yaml';
  if (o === 'json' || o === 'yaml') return o;
  if (o === 'wide' && allowTable) return o;
  throw new Error(`-o ${o}: output format must be one of ${allowTable ? 'json, yaml, wide' : 'json, yaml'}`);
}

/** Prints objects as JSON (one object, or a List) or as YAML documents. */
export function printObjects(objs: unknown[], format: 'json' | 'yaml', asList: boolean): string {
  if (format === 'json') {
    const v = asList ? { apiVersion: 'v1', kind: 'List', items: objs } : objs[0];
    return `${JSON.stringify(v, null, 2)}\n`;
  }
  const { stringify } = yaml();
  return objs.map((o) => stringify(o, { lineWidth: 0 })).join('---\n');
}

/** A kubectl-style table: upper-case headers, columns padded by three spaces. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function age(created: unknown, now = Date.now()): string {
  if (typeof created !== 'string') return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
