/**
 * vitest globalSetup: compiles the project once (tsc → dist/) so tests can start real child processes
 * from the compiled code (the demo runtime, fixtures). `npm test` builds first and sets
 * SLUICE_TEST_SKIP_BUILD=1 to avoid a second build.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  if (process.env['SLUICE_TEST_SKIP_BUILD'] === '1') return;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
}
