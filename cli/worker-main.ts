import { runWorker } from './worker.js';

// Entry of a worker process of `sluice serve --workers N` (forked by cli/workers.ts through node:cluster).
runWorker().catch((err: unknown) => {
  process.stderr.write(`sluice worker ${process.pid} could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
