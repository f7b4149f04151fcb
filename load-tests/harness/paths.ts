import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout's root (the folder whose package.json is named `sluice`), found from this compiled file. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'sluice') {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the sluice checkout root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** A path under the checkout's load-tests/ source folder (templates, results). */
export function loadTestsPath(...parts: string[]): string {
  return join(repoRoot(), 'load-tests', ...parts);
}
