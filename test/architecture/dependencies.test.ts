import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLUICE_ROOT } from '../support/paths.js';
import { UNCHECKED, violations } from './import-rules.js';

/** Every non-test .ts file under the checked folders, relative to the root. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(SLUICE_ROOT, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'dist') walk(rel);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
    }
  };
  for (const e of readdirSync(SLUICE_ROOT, { withFileTypes: true }))
    if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules' && e.name !== 'dist' && !UNCHECKED.has(e.name)) walk(e.name);
  return out;
}

describe('dependency directions (cli → deploy → gateway → activator/autoscaler → api → core)', () => {
  it('no source file imports a folder its layer may not', () => {
    const files = sourceFiles();
    expect(files.length).toBeGreaterThan(100);
    const broken = files.flatMap((f) => violations(f, readFileSync(join(SLUICE_ROOT, f), 'utf8')));
    expect(broken, `forbidden imports:\n${broken.join('\n')}`).toEqual([]);
  });

  it('reads static, re-exported, side-effect and dynamic imports, and names file, import and rule', () => {
    const src = [
      "import type { Backend } from '../deploy/backends/local/local-backend.js';",
      "export { x } from '../cli/main.js';",
      "import '../deploy/side-effect.js';",
      "const m = await import('../cli/lazy.js');",
      "import { Clock } from '../core/clock.js';",
      "import { createServer } from 'node:http';",
    ].join('\n');
    expect(violations(join('gateway', 'gateway.ts'), src)).toEqual([
      "gateway/gateway.ts: imports '../deploy/backends/local/local-backend.js' (deploy/backends/local/local-backend.js) — gateway/ may import only activator/, autoscaler/, api/, core/",
      "gateway/gateway.ts: imports '../cli/main.js' (cli/main.js) — gateway/ may import only activator/, autoscaler/, api/, core/",
      "gateway/gateway.ts: imports '../deploy/side-effect.js' (deploy/side-effect.js) — gateway/ may import only activator/, autoscaler/, api/, core/",
      "gateway/gateway.ts: imports '../cli/lazy.js' (cli/lazy.js) — gateway/ may import only activator/, autoscaler/, api/, core/",
    ]);
    expect(violations(join('core', 'clock.ts'), "import type { Revision } from '../api/revision.js';")).toEqual([
      "core/clock.ts: imports '../api/revision.js' (api/revision.js) — core/ imports nothing outside itself",
    ]);
  });
});
