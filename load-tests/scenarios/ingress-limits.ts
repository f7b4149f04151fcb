import { REQUESTS } from '../harness/load-result.js';
import { formatNumber } from '../harness/stats.js';
import { latencyTable, pairedRounds, pairedRoundsLine, saturationTable, summarise } from '../report/tables.js';
import { measureLatency, measureSaturation, probeCapacity, type Measurements } from './measure.js';
import { withScenarioSystems } from './scenario-systems.js';
import type { Scenario } from './scenario.js';

/**
 * What the ingress rules cost, on and off in the same run: `sluice` (defaults: the ingress stages are composed but
 * the service has no policy) against `sluice-limits` (every rule on, none biting), with `direct` as the floor.
 * Saturated throughput (closed loop), then p50/p99 at half of `sluice`'s probed capacity (open loop).
 */
export const ingressLimits: Scenario = {
  name: 'ingress-limits',
  title: 'Ingress rules: cost with every limit on vs off (same run)',
  systems: ['direct', 'sluice', 'sluice-limits'],
  needs: ['sluice'],
  run: (ctx) =>
    withScenarioSystems(ctx, ingressLimits.systems, { upstreamTimeoutMs: 30_000 }, async (set, upstreams, splitting) => {
      const parts: string[] = [];
      for (const method of ctx.settings.methods) {
        const request = REQUESTS[method];
        const saturatedRounds = await measureSaturation(set.started, upstreams, request, ctx.settings, ctx.log);
        const saturated = summarise(saturatedRounds);
        parts.push(`### ${method} ${request.path}: saturated (closed loop)\n\n${saturationTable(saturated, splitting)}${paired(saturatedRounds, 'saturated')}`);
        let rate = ctx.settings.rate;
        let why = 'set with --rate';
        if (rate === undefined) {
          const capacity = await probeCapacity(set.started.filter((s) => s.definition.name === 'sluice'), request, ctx.settings);
          const cap = capacity.get('sluice') ?? 2000;
          rate = Math.max(100, Math.round(cap / 2 / 50) * 50);
          why = `50 % of sluice's probed capacity (${formatNumber(cap)} req/s)`;
        }
        const latencyRounds = await measureLatency(set.started, upstreams, request, rate, ctx.settings, ctx.log);
        const latency = summarise(latencyRounds);
        parts.push(`### ${method} ${request.path} at ${rate} req/s (${why})\n\n${latencyTable(latency, splitting)}${paired(latencyRounds, 'open loop')}`);
      }
      return {
        markdown: [
          `Closed loop: ${ctx.settings.connections} connections; open loop at half capacity. ${ctx.settings.durationS} s per run, ${ctx.settings.rounds} rounds interleaved, medians over rounds. Compare the sluice-limits row with the sluice row (same run, same upstreams).`,
          ...parts,
        ].join('\n\n'),
        charts: [],
      };
    }),
};

/** The sluice-limits row against the sluice row, round by round, as a paragraph after a table (empty when either is missing). */
function paired(rounds: Measurements, what: 'saturated' | 'open loop'): string {
  const p = pairedRounds(rounds, 'sluice', 'sluice-limits');
  return p === null ? '' : `\n\n${pairedRoundsLine(p, 'sluice', 'sluice-limits', what)}`;
}
