import { dirname, join, normalize, sep } from 'node:path';

/**
 * Which top-level folder may import which: dependencies point down, cli → deploy → gateway → activator /
 * autoscaler → api → core (docs/architecture.md, "The import rule"). A folder may always import itself.
 * test/ and load-tests/ may import anything and are not checked; a folder with no rule here is an error, so a
 * new folder gets a rule before it gets code.
 */
export const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  core: [],
  api: ['core'],
  activator: ['api', 'core'],
  autoscaler: ['api', 'core'],
  gateway: ['activator', 'autoscaler', 'api', 'core'],
  deploy: ['gateway', 'activator', 'autoscaler', 'api', 'core'],
  cli: ['deploy', 'gateway', 'activator', 'autoscaler', 'api', 'core'],
  examples: ['api', 'core'],
};

/** Folders whose files may import anything. */
export const UNCHECKED = new Set(['test', 'load-tests']);

/** Every module specifier a TypeScript source imports or re-exports (static and dynamic). */
export function importSpecifiers(source: string): string[] {
  const found: Array<{ at: number; spec: string }> = [];
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g, // import … from '…', export … from '…'
    /\bimport\s*['"]([^'"]+)['"]/g, // import '…' (side effects)
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, // import('…')
  ];
  for (const p of patterns) for (const m of source.matchAll(p)) found.push({ at: m.index ?? 0, spec: m[1]! });
  return found.sort((a, b) => a.at - b.at).map((f) => f.spec);
}

/** The broken rules among one file's imports (`file` relative to the root), each naming the file, import and rule. */
export function violations(file: string, source: string): string[] {
  const from = file.split(sep)[0]!;
  const allowed = MAY_IMPORT[from];
  if (!allowed) return [`${file}: folder ${from}/ has no import rule (add one to test/architecture/import-rules.ts)`];
  const out: string[] = [];
  for (const spec of importSpecifiers(source)) {
    if (!spec.startsWith('.')) continue; // node: builtins and packages
    const target = normalize(join(dirname(file), spec));
    const to = target.split(sep)[0]!;
    if (to === from || allowed.includes(to)) continue;
    const rule = allowed.length ? `${from}/ may import only ${allowed.map((f) => `${f}/`).join(', ')}` : `${from}/ imports nothing outside itself`;
    out.push(`${file}: imports '${spec}' (${target}) — ${rule}`);
  }
  return out;
}
