import type { OpenLoopClient } from '../harness/fixed-rate.js';
import { REQUESTS } from '../harness/load-result.js';
import { formatNumber } from '../harness/stats.js';
import { formatLoad, latencyTable, loadSweepTable, percentileChart, summarise, type LoadPoint } from '../report/tables.js';
import { CAPACITY_PROBES, measureLatency, probeCapacity } from './measure.js';
import { withScenarioSystems } from './scenario-systems.js';
import type { Chart, Scenario } from './scenario.js';

const BASELINES = new Set(['direct', 'nginx', 'haproxy']);
/** The added p99 the data-plane goal allows at half load (issue 19); the load sweep says up to which load each system keeps it. */
const P99_BUDGET_MS = 2;

/** What the report says about the fixed-rate generator that measured it. */
export function generatorNote(client: OpenLoopClient): string {
  return client === 'c'
    ? 'Generator: `harness/fixed-rate.c` (C, one thread, epoll, a timerfd at each due time; `--open-client undici` for the Node one). "service p50" counts from the actual send; the difference is time an arrival waited in the generator for a free connection or for the CPU.'
    : 'Generator: `harness/open-loop.ts` (Node/undici, `--open-client undici`) on the same cores. "service p50" counts from the actual send; the difference is the generator\'s 1 ms scheduler slack.';
}

/**
 * Steady load at 50 % of capacity (open loop): added latency p50/p99 over direct. The rate is 50 % of
 * Sluice's measured capacity when Sluice runs, else of the slowest Node proxy's (or --rate). With `--loads`
 * each fraction of that capacity is measured in turn, and a table gives each system's added p99 by load.
 */
export const latency: Scenario = {
  name: 'latency',
  title: 'Steady load at 50 % of capacity: added latency (open loop)',
  systems: ['direct', 'nginx', 'haproxy', 'node-http', 'undici-dispatch', 'sluice', 'sluice-2w'],
  needs: [],
  run: (ctx) =>
    withScenarioSystems(ctx, latency.systems, { upstreamTimeoutMs: 30_000 }, async (set, upstreams, splitting) => {
      const parts: string[] = [];
      const charts: Chart[] = [];
      for (const method of ctx.settings.methods) {
        const request = REQUESTS[method];
        const fixed = ctx.settings.rate;
        let capacity: { name: string; reqPerS: number } | undefined;
        if (fixed === undefined) {
          const sluice = set.started.filter((s) => s.definition.name === 'sluice');
          const reference = sluice.length > 0 ? sluice : set.started.filter((s) => !BASELINES.has(s.definition.name));
          const probed = await probeCapacity(reference, request, ctx.settings);
          const [name, reqPerS] = [...probed.entries()].sort((a, b) => a[1] - b[1])[0] ?? ['direct', 2000];
          capacity = { name, reqPerS };
        }
        const sweep: LoadPoint[] = [];
        // One chart per load when there are several (named by the load), else one per method as before.
        const byLoad = fixed === undefined && ctx.settings.loads.length > 1;
        for (const load of fixed === undefined ? ctx.settings.loads : [Number.NaN]) {
          const rate = capacity === undefined ? fixed! : Math.max(100, Math.round((capacity.reqPerS * load) / 50) * 50);
          const why =
            capacity === undefined
              ? 'set with --rate'
              : `${formatLoad(load)} of ${capacity.name}'s probed capacity (${formatNumber(capacity.reqPerS)} req/s, ${ctx.settings.connections} connections, the median of ${CAPACITY_PROBES} probes after a warm-up)`;
          const measured = await measureLatency(set.started, upstreams, request, rate, ctx.settings, ctx.log);
          const rows = summarise(measured);
          sweep.push({ load, rate, rows });
          parts.push(`### ${method} ${request.path} at ${rate} req/s (${why})\n\n${latencyTable(rows, splitting)}`);
          charts.push({
            name: `percentiles-${method.toLowerCase()}${byLoad ? `-${Math.round(load * 100)}` : ''}`,
            svg: percentileChart(`${method} at ${rate} req/s: latency percentiles`, rows),
          });
        }
        if (sweep.length > 1) parts.push(`### ${method}: added p99 by load\n\n${loadSweepTable(sweep, P99_BUDGET_MS)}`);
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
