import { REQUESTS, type RequestShape } from '../harness/load-result.js';
import { withScenarioSystems } from './scenario-systems.js';
import { measureSaturation } from './measure.js';
import type { Scenario } from './scenario.js';
import { cpuChart, hasTimeSeries, NO_TIME_SERIES_NOTE, saturationTable, summarise, throughputChart, timeSeriesChart, type SystemSummary } from '../report/tables.js';

/** Saturated throughput (closed loop) of every system over the same upstreams and 90/10 split. */
export const saturation: Scenario = saturationOf({
  name: 'saturation',
  title: 'Saturation: throughput ratios (closed loop)',
  systems: ['direct', 'nginx', 'haproxy', 'node-http', 'undici-dispatch', 'sluice', 'sluice-nodehttp'],
  needs: [],
});

/**
 * What a second core buys: nginx and Sluice with one and with two worker processes, same split and load.
 * `sluice-2w` is `sluice serve --workers 2` (control plane in the primary, two data-plane workers); `x nginx` in
 * its row is against one nginx worker, compare it with nginx-2w's row.
 */
export const scaleOut: Scenario = saturationOf({
  name: 'scale-out',
  title: 'Scale-out: one and two worker processes (closed loop)',
  systems: ['direct', 'nginx', 'nginx-2w', 'sluice', 'sluice-2w'],
  needs: ['sluice'],
  note: 'Two worker processes each: `nginx-2w` is `worker_processes 2`; `sluice-2w` is `sluice serve --workers 2`: the control plane in the primary, two gateway workers sharing the data port through node:cluster and splitting the capacity of each replica. On a 2-core machine the load generator and the upstreams share the same cores.',
});

/**
 * A connection per request: every request asks for `Connection: close`, so wrk opens a new connection for each, and
 * a system's CPU per request is what a connection costs it from accept to close plus one request. This is the load
 * of a client without keep-alive (a script that opens a connection per call, an HTTP/1.0 tool), and of a burst of
 * new connections after a hiccup.
 */
export const connectionChurn: Scenario = saturationOf({
  name: 'connection-churn',
  title: 'A connection per request: throughput and CPU with Connection: close (closed loop)',
  systems: ['direct', 'nginx', 'haproxy', 'sluice'],
  needs: [],
  note: 'Every request carries `Connection: close`: each is a new TCP connection from the generator, accepted, answered and closed by the system (the systems keep their own connections to the upstreams). Compare CPU µs/req with the saturation report of the same day: the difference is what one connection costs.',
  request: (r) => ({ ...r, headers: { ...r.headers, connection: 'close' } }),
});

function saturationOf(o: { name: string; title: string; systems: string[]; needs: string[]; note?: string; request?: (r: RequestShape) => RequestShape }): Scenario {
  const scenario: Scenario = {
    name: o.name,
    title: o.title,
    systems: o.systems,
    needs: o.needs,
    run: (ctx) =>
      withScenarioSystems(ctx, scenario.systems, { upstreamTimeoutMs: 30_000 }, async (set, upstreams, splitting) => {
        const parts: string[] = [];
        const byMethod: Array<[string, SystemSummary[]]> = [];
        const charts = [];
        for (const method of ctx.settings.methods) {
          const request = o.request ? o.request(REQUESTS[method]) : REQUESTS[method];
          const measured = await measureSaturation(set.started, upstreams, request, ctx.settings, ctx.log);
          const rows = summarise(measured);
          byMethod.push([method, rows]);
          parts.push(`### ${method} ${request.path}\n\n${saturationTable(rows, splitting)}`);
          if (hasTimeSeries(measured))
            charts.push({
              name: `timeseries-${method.toLowerCase()}`,
              svg: timeSeriesChart(`${method}: responses per second, last round`, measured),
            });
          else parts.push(NO_TIME_SERIES_NOTE);
        }
        charts.unshift(
          { name: 'throughput', svg: throughputChart('Saturated throughput per system', byMethod) },
          { name: 'cpu', svg: cpuChart('CPU per request at saturation (lower is better)', byMethod) },
        );
        return {
          markdown: [
            `Closed loop: ${ctx.settings.connections} connections, ${ctx.settings.durationS} s per run, ${ctx.settings.rounds} rounds, systems interleaved; medians over rounds.`,
            ...(o.note ? [o.note] : []),
            ...parts,
          ].join('\n\n'),
          charts,
        };
      }),
  };
  return scenario;
}
