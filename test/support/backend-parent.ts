/**
 * Fixture: a process that owns a LocalBackend with one ready demo replica, prints
 * `{"pids":[...]}` on stdout, then either waits to be killed (`hold`) or exits without close() (`exit`).
 * Usage: node dist/test/support/backend-parent.js <hold|exit> <stateDir> [watchStdin 1|0]
 */
import { LocalBackend } from '../../deploy/backends/local/local-backend.js';
import { revisionKey } from '../../api/revision.js';
import { demoRevision } from './demo-revision.js';
import { SLUICE_ROOT } from './paths.js';

async function main(): Promise<void> {
  const [mode = 'hold', stateDir, watchStdin = '1'] = process.argv.slice(2);
  if (!stateDir) throw new Error('usage: backend-parent <hold|exit> <stateDir> [watchStdin]');
  process.chdir(SLUICE_ROOT);
  const backend = new LocalBackend({ sluiceRoot: SLUICE_ROOT, stateDir });
  const rev = demoRevision({ env: watchStdin === '1' ? {} : { SLUICE_DEMO_WATCH_STDIN: '0' } });
  await backend.apply(rev);
  const ready = new Promise<void>((resolve) => backend.subscribe((e) => e.type === 'ready' && resolve()));
  await backend.scale(revisionKey(rev), 1);
  await ready;
  process.stdout.write(`${JSON.stringify({ pids: backend.pids() })}\n`);
  if (mode === 'exit') process.exit(0);
  setInterval(() => undefined, 60_000);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
