import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freePort, spawnService } from '../harness/child-process.js';
import { cpuSeconds } from '../harness/process-stats.js';
import { REQUESTS } from '../harness/load-result.js';
import { sumSeries } from '../harness/prometheus-text.js';
import { runOpenLoop } from '../harness/open-loop.js';
import { formatNumber, median } from '../harness/stats.js';
import { interleaved, type StartedSystem } from '../harness/system-set.js';
import { barChart, lineChart } from '../report/svg.js';
import { startSluiceServer } from '../systems/sluice.js';
import type { SystemDefinition } from '../systems/system.js';
import { startUpstreamPair } from '../upstreams/upstream-pair.js';
import { probeCapacity } from './measure.js';
import type { Scenario } from './scenario.js';

const sinkScript = fileURLToPath(new URL('../upstreams/log-sink.js', import.meta.url));

/** One Sluice variant of the run: logging off, or mode `all` to a sink in some state. */
interface Variant {
  name: string;
  describe: string;
  sink: 'off' | 'healthy' | 'dead' | 'hung' | 'slow';
}

const VARIANTS: readonly Variant[] = [
  { name: 'logging-off', describe: 'no logger', sink: 'off' },
  { name: 'healthy-sink', describe: 'logger mode all → a sink answering 202 at once', sink: 'healthy' },
  { name: 'dead-sink', describe: 'logger mode all → a port nothing listens on (connection refused)', sink: 'dead' },
  { name: 'hung-sink', describe: 'logger mode all → a sink that accepts and never answers', sink: 'hung' },
  { name: 'slow-sink', describe: 'logger mode all → a sink answering each event after 2 s', sink: 'slow' },
];

interface Round {
  p50: number;
  p99: number;
  throughput: number;
  failures: number;
  /** CPU microseconds (user + system) the Sluice process spent per completed request (delivery included). */
  cpuUs: number;
  /** RSS samples (MiB) over the run, [seconds from its start, MiB]. */
  rss: Array<[number, number]>;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/**
 * Request/response logging's cost (issue 15's budget): the same Sluice (POST, 90/10 split) with logging off and
 * with `logger: {mode: all}` to a healthy, a dead, a hung and a slow sink, five processes measured in the same run,
 * interleaved, at 50 % of the logging-off process's capacity (open loop). Reports p50/p99 and what each adds over
 * logging off, the RSS of each process over its runs, and the logger's counters. `--duration 120 --rounds 1` is
 * the 2-minute sink-outage check.
 */
export const logging: Scenario = {
  name: 'logging',
  title: 'Request/response logging: cost with a healthy sink, and with the sink dead, hung or slow',
  systems: [],
  needs: [],
  async run(ctx) {
    const { settings, children, log } = ctx;
    const upstreams = await startUpstreamPair(children);
    const stops: Array<() => Promise<void>> = [];
    try {
      const sinks = new Map<string, string>();
      for (const mode of ['healthy', 'hung', 'slow'] as const) {
        const s = await spawnService(children, { command: process.execPath, args: [sinkScript, '--mode', mode], ready: { kind: 'prints-port' }, label: `log-sink-${mode}` });
        stops.push(s.stop);
        sinks.set(mode, `http://127.0.0.1:${s.port}/`);
      }
      sinks.set('dead', `http://127.0.0.1:${await freePort()}/`);
      const started: Array<StartedSystem & { metricsPort: number; variant: Variant }> = [];
      // --systems picks variants; logging-off is always measured (every figure is relative to it).
      const chosen = VARIANTS.filter((v) => v.sink === 'off' || settings.systems === undefined || settings.systems.includes(v.name));
      const loadBefore = loadavg()[0]!;
      for (const v of chosen) {
        const metricsPort = await freePort();
        const running = await startSluiceServer(children, upstreams, 30_000, undefined, 1, [...(v.sink === 'off' ? [] : ['--logger-url', sinks.get(v.sink)!]), '--metrics-port', String(metricsPort)]);
        stops.push(running.stop);
        const definition: SystemDefinition = { name: v.name, describe: v.describe, splits: true, start: () => Promise.resolve(running) };
        started.push({ definition, running, metricsPort, variant: v });
      }
      const request = REQUESTS.POST;
      let rate = settings.rate;
      let why = 'set with --rate';
      if (rate === undefined) {
        const cap = (await probeCapacity([started[0]!], request, settings)).get('logging-off') ?? 2000;
        rate = Math.max(100, Math.round(cap / 2 / 50) * 50);
        why = `50 % of logging-off's probed capacity (${formatNumber(cap)} req/s, ${settings.connections} connections)`;
      }
      log(`logging: ${rate} req/s, ${settings.rounds} rounds × ${settings.durationS} s per variant`);
      // Warm-up: each at the rate for a short while (JIT, connections, the sinks' first connections).
      for (const s of started) await runOpenLoop(s.running.url, request, rate, Math.max(1, settings.warmupS), settings.openLoopConnections);
      const rssStart = new Map(started.map((s) => [s.definition.name, rssMiB(s.running.pid!)]));
      const results = await interleaved(started, settings.rounds, async (s, round) => {
        const pid = s.running.pid!;
        const rss: Array<[number, number]> = [];
        const t0 = Date.now();
        const timer = setInterval(() => rss.push([(Date.now() - t0) / 1000, rssMiB(pid)]), 1000);
        const cpu0 = cpuSeconds(pid);
        const r = await runOpenLoop(s.running.url, request, rate!, settings.durationS, settings.openLoopConnections, 1);
        const cpuUs = ((cpuSeconds(pid) - cpu0) * 1e6) / Math.max(1, r.completed);
        clearInterval(timer);
        rss.push([(Date.now() - t0) / 1000, rssMiB(pid)]);
        log(`logging round ${round + 1} ${s.definition.name}: p50 ${r.latency.p50.toFixed(3)} ms p99 ${r.latency.p99.toFixed(3)} ms, RSS ${rss.at(-1)![1].toFixed(0)} MiB`);
        return { p50: r.latency.p50, p99: r.latency.p99, throughput: r.throughput, failures: r.errors + r.non2xx, cpuUs, rss } satisfies Round;
      });
      const counters = new Map<string, Record<string, number>>();
      for (const s of started) {
        const text = await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`).then((r) => r.text());
        const c: Record<string, number> = {};
        for (const o of ['sent', 'retried', 'dropped', 'failed']) c[o] = sumSeries(text, ['sluice_logger_events_total'], { outcome: o }).get('sluice_logger_events_total') ?? 0;
        c['queued'] = sumSeries(text, ['sluice_logger_queue_events']).get('sluice_logger_queue_events') ?? 0;
        counters.set(s.definition.name, c);
      }
      const off = results.get('logging-off')!;
      const offP50 = median(off.map((r) => r.p50));
      const offP99 = median(off.map((r) => r.p99));
      const rows = started.map((s) => {
        const rs = results.get(s.definition.name)!;
        const p50 = median(rs.map((r) => r.p50));
        const p99 = median(rs.map((r) => r.p99));
        const all = rs.flatMap((r) => r.rss.map(([, v]) => v));
        const last = rs.at(-1)!.rss;
        const cpuUs = median(rs.map((r) => r.cpuUs));
        return { name: s.definition.name, p50, p99, dp50: p50 - offP50, dp99: p99 - offP99, rss0: rssStart.get(s.definition.name)!, rssMax: Math.max(...all), rssMid: last[Math.floor(last.length / 2)]![1], rssEnd: last.at(-1)![1], cpuUs, failures: rs.reduce((n, r) => n + r.failures, 0), tput: median(rs.map((r) => r.throughput)), c: counters.get(s.definition.name)! };
      });
      const sign = (v: number): string => `${v >= 0 ? '+' : ''}${formatNumber(v, 3)}`;
      const table = [
        '| variant | achieved req/s | p50 ms | p99 ms | added p50 ms | added p99 ms | CPU µs/req | RSS MiB start → max; last run, middle → end | events sent | retried | dropped | failed | queued at end | errors + non-2xx |',
        '|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|',
        ...rows.map((r) => `| ${r.name} | ${formatNumber(r.tput)} | ${formatNumber(r.p50, 3)} | ${formatNumber(r.p99, 3)} | ${r.name === 'logging-off' ? '–' : sign(r.dp50)} | ${r.name === 'logging-off' ? '–' : sign(r.dp99)} | ${formatNumber(r.cpuUs)} | ${formatNumber(r.rss0)} → ${formatNumber(r.rssMax)}; ${formatNumber(r.rssMid)} → ${formatNumber(r.rssEnd)} | ${r.c['sent']} | ${r.c['retried']} | ${r.c['dropped']} | ${r.c['failed']} | ${r.c['queued']} | ${r.failures} |`),
      ].join('\n');
      const healthy = rows.find((r) => r.name === 'healthy-sink');
      const worstFailing = rows.filter((r) => ['dead-sink', 'hung-sink', 'slow-sink'].includes(r.name)).sort((a, b) => b.dp99 - a.dp99)[0];
      // On a machine busier than its cores, latencies measure the neighbours, not logging: no verdict then.
      const cores = availableParallelism();
      const busiest = Math.max(loadBefore, loadavg()[0]!);
      const judge = (ok: boolean): string => (busiest > cores ? `not judged: load average ${busiest.toFixed(1)} on ${cores} cores` : ok ? 'met' : 'not met');
      const verdicts = [
        ...(healthy ? [`- healthy sink, added p50: ${sign(healthy.dp50)} ms (budget ≤ +0.05 ms): **${judge(healthy.dp50 <= 0.05)}**`] : []),
        ...(worstFailing ? [`- dead/hung/slow sink, worst added p99: ${sign(worstFailing.dp99)} ms (${worstFailing.name}; budget ≤ +1 ms): **${judge(worstFailing.dp99 <= 1)}**`] : []),
        ...rows.filter((r) => r.name !== 'logging-off').map((r) => `- ${r.name} CPU per request: ${formatNumber(r.cpuUs)} µs vs ${formatNumber(rows[0]!.cpuUs)} µs with logging off (${sign(r.cpuUs - rows[0]!.cpuUs)} µs; CPU time is less sensitive to a busy machine than latency, not immune)`),
        ...rows.filter((r) => r.name !== 'logging-off').map((r) => `- ${r.name} RSS: ${formatNumber(r.rss0)} → ${formatNumber(r.rssEnd)} MiB over ${settings.rounds} × ${settings.durationS} s (max ${formatNumber(r.rssMax)}; second half of the last run ${formatNumber(r.rssMid)} → ${formatNumber(r.rssEnd)})`),
      ];
      const charts = [
        {
          name: 'latency',
          svg: barChart({ title: `POST at ${rate} req/s: p50 and p99 by logging variant`, yLabel: 'ms', categories: rows.map((r) => r.name), series: [{ name: 'p50', values: rows.map((r) => r.p50) }, { name: 'p99', values: rows.map((r) => r.p99) }] }),
        },
        {
          name: 'rss',
          svg: lineChart({
            title: 'RSS of each Sluice process over its runs (rounds laid end to end)',
            xLabel: 's',
            yLabel: 'MiB',
            series: rows.map((r) => {
              let offset = 0;
              const points: Array<[number, number]> = [];
              for (const round of results.get(r.name)!) {
                for (const [t, v] of round.rss) points.push([offset + t, v]);
                offset += round.rss.at(-1)![0];
              }
              return { name: r.name, points };
            }),
          }),
        },
      ];
      return {
        markdown: [
          `### Variants\n\n${chosen.map((v) => `- **${v.name}**: sluice-server.js (one process, 90/10 split), ${v.describe}`).join('\n')}`,
          `### POST ${request.path} at ${rate} req/s (${why})\n\nOpen loop (latency from the intended send), ${settings.rounds} rounds × ${settings.durationS} s per variant (first second of each unrecorded), variants interleaved, medians over rounds. Logging settings are the defaults (queue 10,000 events / 64 MiB, 5 s per attempt, 3 attempts, 8 connections per sink). Counters are the process's \`sluice_logger_events_total\` at the end (warm-up included).\n\n${table}`,
          `### Verdicts\n\n${verdicts.join('\n')}`,
        ].join('\n\n'),
        charts,
      };
    } finally {
      for (const stop of stops.reverse()) await stop().catch(() => undefined);
      await upstreams.stop();
    }
  },
};
