import { REQUESTS } from '../harness/load-result.js';
import { withScenarioSystems } from './scenario-systems.js';
import { measureSaturation } from './measure.js';
import type { Scenario } from './scenario.js';
import { cpuChart, saturationTable, summarise, throughputChart, timeSeriesChart, type SystemSummary } from '../report/tables.js';

/** Saturated throughput (closed loop) of every system over the same upstreams and 90/10 split. */
export const saturation: Scenario = {
  name: 'saturation',
  title: 'Saturation: throughput ratios (closed loop)',
  systems: ['direct', 'nginx', 'haproxy', 'node-http', 'undici-dispatch', 'sluice'],
  needs: [],
  run: (ctx) =>
    withScenarioSystems(ctx, saturation.systems, { upstreamTimeoutMs: 30_000 }, async (set, upstreams, splitting) => {
      const parts: string[] = [];
      const byMethod: Array<[string, SystemSummary[]]> = [];
      const charts = [];
      for (const method of ctx.settings.methods) {
        const measured = await measureSaturation(set.started, upstreams, REQUESTS[method], ctx.settings, ctx.log);
        const rows = summarise(measured);
        byMethod.push([method, rows]);
        parts.push(`### ${method} ${REQUESTS[method].path}\n\n${saturationTable(rows, splitting)}`);
        charts.push({
          name: `timeseries-${method.toLowerCase()}`,
          svg: timeSeriesChart(`${method}: responses per second, last round`, measured),
        });
      }
      charts.unshift(
        { name: 'throughput', svg: throughputChart('Saturated throughput per system', byMethod) },
        { name: 'cpu', svg: cpuChart('CPU per request at saturation (lower is better)', byMethod) },
      );
      return {
        markdown: [
          `Closed loop: ${ctx.settings.connections} connections, ${ctx.settings.durationS} s per run, ${ctx.settings.rounds} rounds, systems interleaved; medians over rounds.`,
          ...parts,
        ].join('\n\n'),
        charts,
      };
    }),
};
