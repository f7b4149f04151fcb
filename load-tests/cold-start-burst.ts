/**
 * The cold-start burst as a plain script, printing its breakdown as text; the harness scenario `cold-start`
 * (`npm run bench:cold-start`, report in results/cold-start.md) runs the same code (cold-start/).
 *
 *   npm run build && node dist/load-tests/cold-start-burst.js [requests=1000] [bodyBytes=1024] [rounds=1]
 *
 * Exits 1 when a request was lost or served twice.
 */
import { ChildRegistry } from './harness/child-process.js';
import { COLD_START_DEFAULTS, measureColdStart } from './cold-start/measure.js';
import { coldStartText, nothingLost } from './cold-start/report.js';

function whole(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive whole number, got ${raw}`);
  return n;
}

async function main(): Promise<void> {
  const [requests, bodyBytes, rounds] = process.argv.slice(2);
  const children = new ChildRegistry();
  const stop = (): void => void children.stopAll().then(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const run = await measureColdStart(
      {
        ...COLD_START_DEFAULTS,
        requests: whole(requests, COLD_START_DEFAULTS.requests, 'requests'),
        bodyBytes: whole(bodyBytes, COLD_START_DEFAULTS.bodyBytes, 'bodyBytes'),
        children,
      },
      whole(rounds, 1, 'rounds'),
      (line) => process.stderr.write(`${line}\n`),
    );
    console.log(coldStartText(run));
    if (!nothingLost(run)) process.exitCode = 1;
  } finally {
    await children.stopAll();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
