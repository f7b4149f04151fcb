import { REQUESTS } from '../harness/load-result.js';
import { formatNumber } from '../harness/stats.js';
import type { StartedSystem } from '../harness/system-set.js';
import { cpuChart, latencyTable, percentileChart, saturationTable, summarise, throughputChart, type SystemSummary } from '../report/tables.js';
import { sluice, startSluiceServer } from '../systems/sluice.js';
import type { SystemDefinition } from '../systems/system.js';
import { startOtlpSink } from '../upstreams/otlp-sink.js';
import { startUpstreamPair } from '../upstreams/upstream-pair.js';
import { measureLatency, measureSaturation, probeCapacity } from './measure.js';
import type { Chart, Scenario } from './scenario.js';

/** The budget (issue 15): at a 5 % sample, at most 3 % of saturated throughput and +0.05 ms p50 at half load. */
const BUDGET = { throughputLoss: 0.03, addedP50Ms: 0.05 };

const traced = (name: string, ratio: number, endpoint: string): SystemDefinition => ({
  name,
  describe: `sluice serve as \`sluice\`, tracing on: parentbased_traceidratio at ${ratio * 100} %, OTLP/HTTP protobuf to a loopback sink`,
  splits: true,
  unavailable: sluice.unavailable,
  start: (upstreams, options) => startSluiceServer(options.children, upstreams, options.upstreamTimeoutMs, undefined, 1, ['--tracing-endpoint', endpoint, '--tracing-ratio', String(ratio)]),
});

function verdict(off: SystemSummary | undefined, on: SystemSummary | undefined, key: 'throughput' | 'p50'): string {
  if (!off || !on) return 'not measured';
  if (key === 'throughput') {
    const loss = 1 - on.throughput / off.throughput;
    return `${formatNumber(loss * 100, 1)} % throughput loss (budget ≤ ${BUDGET.throughputLoss * 100} %): **${loss <= BUDGET.throughputLoss ? 'met' : 'not met'}**`;
  }
  const added = on.p50 - off.p50;
  return `${added >= 0 ? '+' : ''}${formatNumber(added, 3)} ms p50 (budget ≤ +${BUDGET.addedP50Ms} ms): **${added <= BUDGET.addedP50Ms ? 'met' : 'not met'}**`;
}

/**
 * What tracing costs the data plane: the same Sluice with tracing off, on at 5 % (the default sample) and on at
 * 100 %, measured in the same run, interleaved round by round, over the same upstreams; spans go to a loopback
 * OTLP sink. Saturated throughput (closed loop) and p50 at 50 % of the tracing-off capacity (open loop).
 */
export const tracing: Scenario = {
  name: 'tracing',
  title: 'Tracing: cost of OpenTelemetry spans at 5 % and 100 % sampling, against tracing off',
  systems: ['sluice', 'sluice-trace-5pct', 'sluice-trace-100pct'],
  needs: ['sluice'],
  async run(ctx) {
    const upstreams = await startUpstreamPair(ctx.children);
    const sink = await startOtlpSink();
    const started: StartedSystem[] = [];
    try {
      const options = { children: ctx.children, upstreamTimeoutMs: 30_000 };
      for (const definition of [sluice, traced('sluice-trace-5pct', 0.05, sink.url), traced('sluice-trace-100pct', 1, sink.url)]) {
        if (ctx.settings.systems && !ctx.settings.systems.includes(definition.name)) continue;
        started.push({ definition, running: await definition.start(upstreams, options) });
        ctx.log(`started ${definition.name}`);
      }
      const parts: string[] = [];
      const charts: Chart[] = [];
      const byMethod: Array<[string, SystemSummary[]]> = [];
      const verdicts: string[] = [];
      for (const method of ctx.settings.methods) {
        const request = REQUESTS[method];
        const sat = summarise(await measureSaturation(started, upstreams, request, ctx.settings, ctx.log));
        byMethod.push([method, sat]);
        const off = started.filter((s) => s.definition.name === 'sluice');
        const capacity = ctx.settings.rate ?? (await probeCapacity(off.length ? off : started, request, ctx.settings)).values().next().value ?? 2000;
        const rate = ctx.settings.rate ?? Math.max(100, Math.round(capacity / 2 / 50) * 50);
        const offSat = sat.find((r) => r.name === 'sluice')?.throughput;
        const why =
          ctx.settings.rate === undefined
            ? "50 % of tracing-off Sluice's probed capacity"
            : `set with --rate: ${offSat ? formatNumber((rate / offSat) * 100, 0) : '?'} % of tracing-off Sluice's saturated throughput above`;
        const lat = summarise(await measureLatency(started, upstreams, request, rate, ctx.settings, ctx.log));
        const find = (rows: SystemSummary[], n: string): SystemSummary | undefined => rows.find((r) => r.name === n);
        const cpu = (n: string): string => {
          const off = find(sat, 'sluice')?.cpuPerRequestUs;
          const on = find(sat, n)?.cpuPerRequestUs;
          return off === undefined || on === undefined ? 'not measured' : `${formatNumber(on, 1)} µs vs ${formatNumber(off, 1)} µs off (${on - off >= 0 ? '+' : ''}${formatNumber(on - off, 1)} µs)`;
        };
        verdicts.push(
          `- ${method} at 5 %: ${verdict(find(sat, 'sluice'), find(sat, 'sluice-trace-5pct'), 'throughput')}; ${verdict(find(lat, 'sluice'), find(lat, 'sluice-trace-5pct'), 'p50')}`,
          `- ${method} at 100 % (no budget; for scale): ${verdict(find(sat, 'sluice'), find(sat, 'sluice-trace-100pct'), 'throughput').replace(/ \(budget[^)]*\): \*\*[a-z ]+\*\*/, '')}; ${verdict(find(lat, 'sluice'), find(lat, 'sluice-trace-100pct'), 'p50').replace(/ \(budget[^)]*\): \*\*[a-z ]+\*\*/, '')}`,
          `- ${method} Sluice CPU per request at saturation (the steadiest figure on a shared machine): 5 % ${cpu('sluice-trace-5pct')}; 100 % ${cpu('sluice-trace-100pct')}`,
        );
        parts.push(
          `### ${method} ${request.path}: saturation (closed loop, ${ctx.settings.connections} connections)\n\n${saturationTable(sat, new Set(sat.map((r) => r.name)))}`,
          `### ${method} ${request.path}: ${rate} req/s, ${why} (open loop)\n\n${latencyTable(lat, new Set(lat.map((r) => r.name)))}`,
        );
        charts.push({ name: `percentiles-${method.toLowerCase()}`, svg: percentileChart(`${method} at ${rate} req/s: latency percentiles`, lat) });
      }
      charts.unshift(
        { name: 'throughput', svg: throughputChart('Saturated throughput: tracing off, 5 %, 100 %', byMethod) },
        { name: 'cpu', svg: cpuChart('CPU per request at saturation (lower is better)', byMethod) },
      );
      const got = sink.stats();
      // A traced system that sent nothing was not tracing: its numbers would measure nothing.
      if (got.exports === 0 && started.some((s) => s.definition.name !== 'sluice'))
        throw new Error('the tracing systems exported no spans to the OTLP sink: tracing was not on');
      return {
        markdown: [
          `Same run, systems interleaved round by round: ${ctx.settings.rounds} rounds of ${ctx.settings.durationS} s, medians over rounds. The × columns against direct/nginx/haproxy are empty here: compare the rows with \`sluice\` (tracing off). Spans went to a loopback OTLP/HTTP sink: ${got.exports} export requests, ${formatNumber(got.bytes / 1e6, 1)} MB.`,
          '### Budget (issue 15)',
          verdicts.join('\n'),
          ...parts,
        ].join('\n\n'),
        charts,
      };
    } finally {
      await Promise.all(started.map((s) => s.running.stop().catch(() => undefined)));
      await sink.stop();
      await upstreams.stop();
    }
  },
};
