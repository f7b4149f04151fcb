/**
 * The whole cold-start measurement: rounds of the burst, each on a fresh Sluice, interleaved with fresh-replica
 * direct baselines (one per round, at least three in all) so that drift on a shared machine hits both alike.
 * Used by the harness scenario (scenarios/cold-start.ts) and by `npm run load:cold-start`.
 */
import { directFirstResponse } from './direct.js';
import type { ColdStartRun } from './report.js';
import { breakdown, runColdStartRound, type ColdStartOptions, type ColdStartRound } from './round.js';

/** The shape of issue 7's burst; `requests`, `maxReplicas` and the rounds come from the command line. */
export const COLD_START_DEFAULTS: ColdStartOptions = {
  requests: 1000,
  bodyBytes: 1024,
  startupDelayMs: 2000,
  containerConcurrency: 4,
  maxReplicas: 1,
  sampleEveryMs: 100,
};

const MIN_DIRECT_SAMPLES = 3;

export async function measureColdStart(options: ColdStartOptions, rounds: number, log: (line: string) => void): Promise<ColdStartRun> {
  const direct: number[] = [];
  const results: ColdStartRound[] = [];
  for (let i = rounds; i < MIN_DIRECT_SAMPLES; i++) direct.push(await directFirstResponse(options, options.bodyBytes, options.children));
  for (let i = 1; i <= rounds; i++) {
    direct.push(await directFirstResponse(options, options.bodyBytes, options.children));
    const round = await runColdStartRound(options);
    results.push(round);
    const b = breakdown(round);
    log(
      `cold-start round ${i}/${rounds}: wake-up ${b.wakeMs} ms, ready → announced ${b.readyToAnnouncedMs} ms, ` +
        `ready → first answer ${b.readyToFirstMs.toFixed(0)} ms, direct ${direct.at(-1)} ms, lost ${round.cold.lost}`,
    );
  }
  return { options, rounds: results, direct };
}
