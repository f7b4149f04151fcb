/**
 * Writes the synthetic traces (seeded, reproducible) as CSV: `npm run build && node dist/load-tests/traces/generate.js [DIR]`
 * (DIR defaults to load-tests/traces). Format: docs/simulator.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SYNTHETIC_TRACES } from '../../autoscaler/simulator/synthetic.js';
import { formatTrace } from '../../autoscaler/simulator/trace.js';

const dir = process.argv[2] ?? 'load-tests/traces';
mkdirSync(dir, { recursive: true });
for (const [name, make] of Object.entries(SYNTHETIC_TRACES)) {
  const reqs = make();
  const text = formatTrace(reqs);
  writeFileSync(join(dir, `${name}.csv`), text);
  console.log(`${name}.csv: ${reqs.length} requests, ${(text.length / 1024).toFixed(0)} KiB`);
}
