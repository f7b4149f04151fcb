import type { OpenLoopClient } from '../harness/fixed-rate.js';
import { REQUESTS } from '../harness/load-result.js';
import { formatNumber } from '../harness/stats.js';
import { latencyTable, percentileChart, summarise } from '../report/tables.js';
import { measureLatency, probeCapacity } from './measure.js';
import { withScenarioSystems } from './scenario-systems.js';
import type { Chart, Scenario } from './scenario.js';

const BASELINES = new Set(['direct', 'nginx', 'haproxy']);

/** What the report says about the fixed-rate generator that measured it. */
export function generatorNote(client: OpenLoopClient): string {
  return client === 'c'
    ? 'Generator: `harness/fixed-rate.c` (C, one thread, epoll, a timerfd at each due time; `--open-client undici` for the Node one). "service p50" counts from the actual send; the difference is time an arrival waited in the generator for a free connection or for the CPU.'
    : 'Generator: `harness/open-loop.ts` (Node/undici, `--open-client undici`) on the same cores. "service p50" counts from the actual send; the difference is the generator\'s 1 ms scheduler slack.';
}

/**
 * Steady load at 50 % of capacity (open loop): added latency p50/p99 over direct. The rate is 50 % of
 * Sluice's measured capacity when Sluice runs, else of the slowest Node proxy's (or --rate).
 */
export const latency: Scenario = {
  name: 'latency',
  title: 'Steady load at 50 % of capacity: added latency (open loop)',
  systems: ['direct', 'nginx', 'haproxy', 'node-http', 'undici-dispatch', 'sluice'],
  needs: [],
  run: (ctx) =>
    withScenarioSystems(ctx, latency.systems, { upstreamTimeoutMs: 30_000 }, async (set, upstreams, splitting) => {
      const parts: string[] = [];
      const charts: Chart[] = [];
      for (const method of ctx.settings.methods) {
        const request = REQUESTS[method];
        let rate = ctx.settings.rate;
        let why = 'set with --rate';
        if (rate === undefined) {
          const sluice = set.started.filter((s) => s.definition.name === 'sluice');
          const reference = sluice.length > 0 ? sluice : set.started.filter((s) => !BASELINES.has(s.definition.name));
          const capacity = await probeCapacity(reference, request, ctx.settings);
          const [slowest, cap] = [...capacity.entries()].sort((a, b) => a[1] - b[1])[0] ?? ['direct', 2000];
          rate = Math.max(100, Math.round(cap / 2 / 50) * 50);
          why = `50 % of ${slowest}'s probed capacity (${formatNumber(cap)} req/s, ${ctx.settings.connections} connections)`;
        }
        const measured = await measureLatency(set.started, upstreams, request, rate, ctx.settings, ctx.log);
        const rows = summarise(measured);
        parts.push(
          `### ${method} ${request.path} at ${rate} req/s (${why})\n\n${latencyTable(rows, splitting)}`,
        );
        charts.push({
          name: `percentiles-${method.toLowerCase()}`,
          svg: percentileChart(`${method} at ${rate} req/s: latency percentiles`, rows),
        });
      }
      return {
        markdown: [
          `Open loop (arrivals on a fixed schedule, latency from the intended send time), ${ctx.settings.durationS} s per run, ${ctx.settings.rounds} rounds interleaved, medians over rounds. ${generatorNote(ctx.settings.openClient)}`,
          ...parts,
        ].join('\n\n'),
        charts,
      };
    }),
};
