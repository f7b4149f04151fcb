import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SLUICE_ROOT } from '../test/support/paths.js';
import { SETTING_KEYS } from './config-table.js';
import { withGeneratedTable } from './config-doc.js';
import { envName } from './setting-kinds.js';

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(SLUICE_ROOT, 'docs', 'configuration.md'), 'utf8');

  it('holds the settings table generated from core/config-table.ts (run `npm run gen:config-docs` when this fails)', () => {
    expect(doc).toBe(withGeneratedTable(doc));
  });

  it('names every setting and its environment variable', () => {
    for (const key of SETTING_KEYS) expect(doc).toContain(`| ${key} | `);
    for (const key of SETTING_KEYS) expect(doc).toContain(`\`${envName(key)}\``);
  });
});
