/** `npm run gen:config-docs`: writes the settings table of docs/configuration.md from core/config-table.ts. */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withGeneratedTable } from '../core/config-doc.js';

// Run from dist/cli/: the checkout's docs/ is two folders up.
const path = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));
const before = readFileSync(path, 'utf8');
const after = withGeneratedTable(before);
if (after !== before) writeFileSync(path, after);
process.stdout.write(`${path}: ${after === before ? 'up to date' : 'settings table written'}\n`);
