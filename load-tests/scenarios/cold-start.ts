import { COLD_START_DEFAULTS, measureColdStart } from '../cold-start/measure.js';
import { coldStartChart, coldStartMarkdown, medianRound } from '../cold-start/report.js';
import type { Scenario } from './scenario.js';

/**
 * Cold-start burst: `--burst` (1,000) concurrent POSTs at a revision at zero whose replica takes 2 s to start
 * and serves 4 at a time; `--rounds` rounds, each on a fresh `sluice serve` child. Reports requests lost, the
 * delay Sluice adds beyond the replica's own start-up (median of rounds; goal ≤ 50 ms) with its breakdown,
 * latency percentiles, and held requests and replicas over time (sampled from /metrics every 100 ms).
 */
export const coldStart: Scenario = {
  name: 'cold-start',
  title: 'Cold-start burst: concurrent requests at a revision at zero',
  systems: ['sluice'],
  needs: ['sluice'],
  run: async (ctx) => {
    const options = {
      ...COLD_START_DEFAULTS,
      requests: ctx.settings.burst,
      maxReplicas: ctx.settings.maxReplicas,
      children: ctx.children,
    };
    const run = await measureColdStart(options, ctx.settings.rounds, ctx.log);
    return { markdown: coldStartMarkdown(run), charts: [coldStartChart(medianRound(run))] };
  },
};
