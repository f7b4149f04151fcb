import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTestsPath } from '../harness/paths.js';

/** Fills `{{key}}` placeholders of a template under load-tests/baselines/ into a fresh temp folder. */
export function renderBaselineConfig(
  template: string,
  values: Record<string, string | number>,
): { dir: string; file: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const text = readFileSync(loadTestsPath('baselines', template), 'utf8').replace(
    /\{\{(\w+)\}\}/g,
    (_, key: string) => {
      const value = key === 'dir' ? dir : values[key];
      if (value === undefined) throw new Error(`template ${template}: no value for {{${key}}}`);
      return String(value);
    },
  );
  const file = join(dir, template.replace(/\.template$/, ''));
  writeFileSync(file, text);
  return { dir, file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
