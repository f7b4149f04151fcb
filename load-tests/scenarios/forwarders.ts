import { checkClientAbort, type AbortCheck } from '../behaviours/client-abort.js';
import { checkUpstreamFailures, describeOutcome, type FailureCheck } from '../behaviours/upstream-failure.js';
import { REQUESTS } from '../harness/load-result.js';
import { formatNumber } from '../harness/stats.js';
import { startSystems } from '../harness/system-set.js';
import { cpuChart, hasTimeSeries, latencyTable, NO_TIME_SERIES_NOTE, percentileChart, saturationTable, summarise, throughputChart, timeSeriesChart, type SystemSummary } from '../report/tables.js';
import type { RunningUpstreams } from '../upstreams/upstream-pair.js';
import { measureLatency, measureSaturation } from './measure.js';
import { withScenarioSystems } from './scenario-systems.js';
import type { Chart, Scenario, ScenarioContext } from './scenario.js';

const BASELINES = ['direct', 'nginx', 'haproxy'];
const FORWARDERS = ['node-http', 'http-proxy', 'http-proxy-3', 'undici-stream', 'undici-dispatch', 'undici-request'];
const BEHAVIOUR_TIMEOUT_MS = 1_000;
const BEHAVIOUR_UPSTREAM_DELAY_MS = 3_000;

/**
 * The forwarder choice: saturation and fixed-rate latency of each forwarding implementation against direct,
 * nginx and HAProxy (GET and POST), then the behaviours a gateway depends on: upstream timeout versus reset,
 * and descriptors after waves of client aborts.
 */
export const forwarders: Scenario = {
  name: 'forwarders',
  title: 'Forwarder choice: http-proxy vs http-proxy-3 vs undici vs node:http',
  systems: [...BASELINES, ...FORWARDERS],
  needs: [],
  run: (ctx) =>
    withScenarioSystems(ctx, forwarders.systems, { upstreamTimeoutMs: 30_000 }, async (set, upstreams, splitting) => {
      const parts: string[] = [];
      const charts: Chart[] = [];
      const saturated: Array<[string, SystemSummary[]]> = [];
      for (const method of ctx.settings.methods) {
        const measured = await measureSaturation(set.started, upstreams, REQUESTS[method], ctx.settings, ctx.log);
        const rows = summarise(measured);
        saturated.push([method, rows]);
        parts.push(`### Saturation, ${method} (${ctx.settings.connections} connections, closed loop)\n\n${saturationTable(rows, splitting)}`);
        if (hasTimeSeries(measured)) charts.push({ name: `timeseries-${method.toLowerCase()}`, svg: timeSeriesChart(`${method} saturation: responses per second, last round`, measured) });
        else parts.push(NO_TIME_SERIES_NOTE);
      }
      charts.unshift(
        { name: 'throughput', svg: throughputChart('Saturated throughput: forwarders vs baselines', saturated) },
        { name: 'cpu', svg: cpuChart('Proxy CPU per request at saturation (lower is better)', saturated) },
      );
      for (const [method, rows] of saturated) {
        const proxies = rows.filter((r) => FORWARDERS.includes(r.name));
        const slowest = [...proxies].sort((a, b) => a.throughput - b.throughput)[0];
        const rate = ctx.settings.rate ?? Math.max(100, Math.round((slowest?.throughput ?? 2000) / 2 / 50) * 50);
        const why = ctx.settings.rate ? 'set with --rate' : `50 % of the slowest forwarder (${slowest?.name}, ${formatNumber(slowest?.throughput ?? 0)} req/s)`;
        const request = REQUESTS[method as 'GET' | 'POST'];
        const measured = await measureLatency(set.started, upstreams, request, rate, ctx.settings, ctx.log);
        const latencyRows = summarise(measured);
        parts.push(`### Latency at a fixed rate, ${method}: ${rate} req/s (${why}), open loop\n\n${latencyTable(latencyRows, splitting)}`);
        charts.push({ name: `percentiles-${method.toLowerCase()}`, svg: percentileChart(`${method} at ${rate} req/s: latency percentiles`, latencyRows) });
      }
      await set.stop();
      parts.push(await behaviours(ctx, upstreams, set.started.map((s) => s.definition.name).filter((n) => n !== 'direct')));
      parts.push(ranking(saturated));
      return { markdown: parts.join('\n\n'), charts };
    }),
};

async function behaviours(ctx: ScenarioContext, upstreams: RunningUpstreams, names: string[]): Promise<string> {
  const lines = [
    `### Behaviours (each system restarted with a ${BEHAVIOUR_TIMEOUT_MS} ms upstream timeout)`,
    '',
    `Timeout: the upstream waits ${BEHAVIOUR_UPSTREAM_DELAY_MS} ms before answering. Reset: the upstream drops the connection unanswered. ` +
      `Aborts: ${ctx.settings.aborts} requests per wave to an upstream that answers after 300 ms, each abandoned by the client after 50 ms, 50 at a time; ` +
      'descriptors of the proxy process (tree) before, after wave 1 and after wave 2. Growth that levels off is pooled keep-alive sockets; growth per wave is a leak.',
    '',
    '| system | upstream timeout → client sees | upstream reset → client sees | 504 vs 502 distinguishable | fds before → wave 1 → wave 2 | sockets | aborted requests the upstream still answered (wasted work) | serves after |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const name of names) {
    const set = await startSystems([name], upstreams, { upstreamTimeoutMs: BEHAVIOUR_TIMEOUT_MS, children: ctx.children }, ctx.log);
    try {
      const system = set.started[0];
      if (!system) continue;
      // aborts first: nginx marks an upstream down for 10 s after the reset check (max_fails=1, fail_timeout=10s)
      const aborts: AbortCheck | undefined = await checkClientAbort(system.running, upstreams, ctx.settings.aborts);
      const failure: FailureCheck = await checkUpstreamFailures(system.running.url, BEHAVIOUR_UPSTREAM_DELAY_MS);
      ctx.log(`behaviours ${name}: timeout ${describeOutcome(failure.timeout)}, reset ${describeOutcome(failure.reset)}, fds ${aborts?.fds.join(' → ')}`);
      lines.push(
        `| ${name} | ${describeOutcome(failure.timeout)} | ${describeOutcome(failure.reset)} | ${failure.distinguishable ? 'yes' : '**no**'} | ` +
          (aborts
            ? `${aborts.fds.join(' → ')} | ${aborts.sockets.join(' → ')} | ${aborts.upstreamAnswered} of ${aborts.aborted} | ${aborts.statusAfter === 200 ? '200' : `**${aborts.statusAfter}**`} |`
            : 'n/a | n/a | n/a | n/a |'),
      );
    } finally {
      await set.stop();
    }
  }
  return lines.join('\n');
}

function ranking(saturated: ReadonlyArray<[string, SystemSummary[]]>): string {
  const lines = ['### Ranking of forwarders', ''];
  for (const [method, rows] of saturated) {
    const forwarders = rows.filter((r) => FORWARDERS.includes(r.name));
    const byThroughput = [...forwarders].sort((a, b) => b.throughput - a.throughput);
    const byCpu = [...forwarders].sort((a, b) => a.cpuPerRequestUs - b.cpuPerRequestUs);
    lines.push(`- ${method}, saturated req/s: ${byThroughput.map((r) => `${r.name} ${formatNumber(r.throughput)}`).join(' > ')}`);
    lines.push(`- ${method}, CPU µs/request: ${byCpu.map((r) => `${r.name} ${formatNumber(r.cpuPerRequestUs)}`).join(' < ')}`);
  }
  return lines.join('\n');
}
