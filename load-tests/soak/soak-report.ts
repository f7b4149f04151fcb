/** The soak's report: resource table, verdicts, client counts, kills, and the stacked resource chart. */
import { formatNumber } from '../harness/stats.js';
import { stackedLineChart } from '../report/svg.js';
import type { SoakPlan } from './soak-plan.js';
import type { AbortLoadResult } from './abort-load.js';
import type { SoakSample } from './process-sampler.js';
import type { KillRecord } from './replica-tracker.js';
import {
  DEFAULT_TOLERANCES,
  WARMUP_FRACTION,
  soakVerdicts,
  splitFailures,
  trendOf,
  type Point,
} from './soak-verdict.js';

export interface SoakRun {
  plan: SoakPlan;
  /** ms since the epoch at which the load started (t = 0) */
  origin: number;
  samples: readonly SoakSample[];
  baseline: { fds: number; readyReplicas: number };
  /** the last reading, after the load and the drain */
  after: SoakSample | undefined;
  client: AbortLoadResult;
  kills: readonly KillRecord[];
  skippedKills: readonly string[];
  alive: boolean;
  exit: string | undefined;
  /** seconds from the load's end to the last reading */
  drainS: number;
  /** sluice's own warning and error lines (not its replicas' output), counted by level and message */
  warnings: ReadonlyArray<{ level: string; msg: string; count: number }>;
}

const MiB = 2 ** 20;

function points(run: Pick<SoakRun, 'origin' | 'samples'>, f: (s: SoakSample) => number): Point[] {
  return run.samples.map((s) => ({ t: (s.at - run.origin) / 1000, v: f(s) }));
}

const t = (run: Pick<SoakRun, 'origin'>, at: number): number => (at - run.origin) / 1000;

interface Row {
  label: string;
  digits: number;
  f: (s: SoakSample) => number;
}

const rssAfterGc = (s: SoakSample): number => (s.afterGc ? s.afterGc.rssBytes / MiB : Number.NaN);
const heapAfterGc = (s: SoakSample): number => (s.afterGc ? s.afterGc.heapUsedBytes / MiB : Number.NaN);
/** Event-loop delay, except the readings whose second held a forced collection's pause. */
const lagP99 = (s: SoakSample): number => (s.coversForcedGc ? Number.NaN : s.lagP99Ms);

const ROWS: Row[] = [
  { label: 'RSS after a forced full GC (MiB)', digits: 1, f: rssAfterGc },
  { label: 'V8 heap after a forced full GC (MiB)', digits: 1, f: heapAfterGc },
  { label: 'RSS, every second (MiB)', digits: 1, f: (s) => s.rssBytes / MiB },
  { label: 'V8 heap used, every second (MiB)', digits: 1, f: (s) => s.heapUsedBytes / MiB },
  { label: 'open descriptors', digits: 0, f: (s) => s.fds },
  { label: 'event-loop delay p99 (ms)', digits: 1, f: lagP99 },
  { label: 'event-loop delay max (ms)', digits: 1, f: (s) => (s.coversForcedGc ? Number.NaN : s.lagMaxMs) },
  { label: 'forced full GC pause (ms)', digits: 1, f: (s) => s.afterGc?.pauseMs ?? Number.NaN },
  { label: 'GET /metrics wall time (ms)', digits: 1, f: (s) => s.scrapeMs },
  { label: 'gateway in flight', digits: 0, f: (s) => s.gatewayInflight },
  { label: 'replicas ready', digits: 0, f: (s) => s.readyReplicas },
];

function resourceTable(run: SoakRun): string {
  const loadS = run.plan.loadS;
  const during = (p: Point[]): Point[] => p.filter((x) => x.t >= 0 && x.t <= loadS && Number.isFinite(x.v));
  const nearest = (p: Point[], at: number): number => {
    let best: Point | undefined;
    for (const x of p) if (Number.isFinite(x.v) && (!best || Math.abs(x.t - at) < Math.abs(best.t - at))) best = x;
    return best?.v ?? Number.NaN;
  };
  const lines = [
    `| | idle, before | load start | after warm-up (t = ${formatNumber(WARMUP_FRACTION * loadS)} s) | end of load | max during load | 2nd-quarter mean | last-quarter mean | after the drain |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const row of ROWS) {
    const p = points(run, row.f);
    const load = during(p);
    const idle = p.filter((x) => x.t < 0 && Number.isFinite(x.v));
    const drained = p.filter((x) => x.t > loadS && Number.isFinite(x.v));
    const trend = trendOf(p, loadS);
    const fmt = (v: number): string => formatNumber(v, row.digits);
    lines.push(
      `| ${row.label} | ${fmt(idle[idle.length - 1]?.v ?? Number.NaN)} | ${fmt(load[0]?.v ?? Number.NaN)} | ${fmt(nearest(load, WARMUP_FRACTION * loadS))} | ` +
        `${fmt(load[load.length - 1]?.v ?? Number.NaN)} | ${fmt(load.length > 0 ? Math.max(...load.map((x) => x.v)) : Number.NaN)} | ` +
        `${fmt(trend.q2Mean)} | ${fmt(trend.q4Mean)} | ${fmt(drained[drained.length - 1]?.v ?? Number.NaN)} |`,
    );
  }
  return lines.join('\n');
}

function clientTable(run: SoakRun): string {
  const c = run.client;
  const split = splitFailures(c.failures, run.kills.map((k) => t(run, k.at)));
  const list = (r: Record<string, number>): string =>
    Object.keys(r).length === 0 ? '0' : Object.entries(r).map(([k, n]) => `${k}: ${n}`).join(', ');
  const aborted = c.abortedBeforeHeaders + c.abortedMidBody;
  return [
    '| client side | count |',
    '|---|---:|',
    `| requests sent (arrivals skipped at the ${formatNumber(run.plan.maxOutstanding)}-outstanding bound) | ${formatNumber(c.sent)} (${c.skipped}) |`,
    `| complete requests answered 200 | ${formatNumber(c.ok)} |`,
    `| complete requests answered otherwise, by status | ${list(c.statuses)} |`,
    `| complete requests without a whole answer, by error | ${list(c.transportErrors)} |`,
    `| … of those failures, within 0.5 s before to 5 s after a kill | ${list(split.aroundKills)} |`,
    `| … elsewhere | ${list(split.elsewhere)} |`,
    `| aborts planned (1 in ${run.plan.abortEvery}) | ${formatNumber(c.abortsPlanned)} |`,
    `| aborted after the whole request, before the response headers | ${formatNumber(c.abortedBeforeHeaders)} |`,
    `| aborted in the middle of the request body | ${formatNumber(c.abortedMidBody)} |`,
    `| abort planned but the answer came first | ${formatNumber(c.answeredFirst)} |`,
    `| abort planned but the request failed before it fired, by error | ${list(c.failedBeforeAbort)} |`,
    `| share of sent requests actually aborted | ${c.sent > 0 ? ((100 * aborted) / c.sent).toFixed(1) : '–'} % |`,
    `| latency of the 200s from the intended send time, p50 / p99 / max (ms) | ${formatNumber(c.latencyMs.p50, 1)} / ${formatNumber(c.latencyMs.p99, 1)} / ${formatNumber(c.latencyMs.max, 1)} |`,
  ].join('\n');
}

function killTable(run: SoakRun): string {
  const lines = [
    '| # | at (s) | replica | pid | sluice logged | replacement | ready after (s) |',
    '|---:|---:|---|---:|---|---|---:|',
  ];
  run.kills.forEach((k, i) => {
    lines.push(
      `| ${i + 1} | ${formatNumber(t(run, k.at), 1)} | ${k.replica} | ${k.pid} | ${k.failedHow ?? '**nothing**'} | ${k.replacement ?? '**none**'} | ` +
        `${k.restoredAt === undefined ? '–' : formatNumber((k.restoredAt - k.at) / 1000, 2)} |`,
    );
  });
  for (const s of run.skippedKills) lines.push(`| – | ${s} | | | | | |`);
  return lines.join('\n');
}

/** The smallest steady growth per hour the run could flag: the tolerance spread over the measured window. */
function floorPerHour(tolerance: number, windowS: number): number {
  return windowS > 0 ? (tolerance / windowS) * 3600 : Number.NaN;
}

export function soakMarkdown(run: SoakRun): string {
  const { plan } = run;
  const after = run.after;
  const checks = soakVerdicts({
    loadEndS: plan.loadS,
    rssAfterGcMiB: points(run, rssAfterGc),
    heapAfterGcMiB: points(run, heapAfterGc),
    fds: points(run, (s) => s.fds),
    lagP99Ms: points(run, lagP99),
    kills: run.kills.map((k) => t(run, k.at)),
    restored: run.kills.filter((k) => k.restoredAt !== undefined).length,
    failures: run.client.failures,
    ok: run.client.ok,
    alive: run.alive,
    exit: run.exit,
    after: {
      gatewayInflight: after?.gatewayInflight ?? Number.NaN,
      held: after?.held ?? Number.NaN,
      replicaInflight: after?.replicaInflight ?? Number.NaN,
      fds: after?.fds ?? Number.NaN,
      readyReplicas: after?.readyReplicas ?? Number.NaN,
    },
    baseline: run.baseline,
  });
  const rss = trendOf(points(run, rssAfterGc), plan.loadS);
  const fdsWindow = trendOf(points(run, (s) => s.fds), plan.loadS).windowS;
  const raw = trendOf(points(run, (s) => s.rssBytes / MiB), plan.loadS);
  const tol = DEFAULT_TOLERANCES;
  const passed = checks.every((c) => c.pass);
  return [
    `**Verdict: ${passed ? '✓ flat, no crash' : '✗ see the failed checks below'}.**`,
    '',
    `Setup: \`sluice serve\` (embedded, local backend) with one InferenceService on the demo runtime: minReplicas ${plan.minReplicas}, ` +
      `maxReplicas ${plan.maxReplicas}, containerConcurrency ${plan.containerConcurrency}; each replica is a real process that takes ` +
      `${plan.replicaLatencyMs}–${plan.replicaLatencyMs + plan.replicaJitterMs} ms per prediction. Load: open loop at ${plan.rate} req/s for ` +
      `${plan.loadS} s (10 × --duration) of v1 predict POSTs over node:http keep-alive connections; every ${plan.abortEvery}th request is ` +
      `abandoned by the client (destroying its connection), alternately after the whole request was sent but before the response headers ` +
      `(1–${plan.abortWindowMs} ms after sending) and halfway through sending the request body. Every ${plan.killEveryS} s (1.5 × --duration) ` +
      `the oldest ready replica is SIGKILLed and the local backend restarts it. After the load the client closes its connections and ` +
      `the harness waits (${formatNumber(run.drainS, 1)} s here) for the gauges and descriptors to settle.`,
    '',
    'Measured once a second in the sluice process alone (not its replicas): RSS from /proc/<pid>/status, open descriptors ' +
      'by listing /proc/<pid>/fd, and from its own /metrics the event-loop delay (prom-client\'s `monitorEventLoopDelay` ' +
      'histogram, `nodejs_eventloop_lag_p99_seconds` and `_max_`, reset at every scrape so each reading covers ' +
      'the second before it; it samples every 10 ms, so an idle loop reads ≈10 ms), V8 heap in use and the in-flight gauges. ' +
      'The wall time of the scrape itself is the same loop seen from outside. Ten times during the load (and once idle before, ' +
      'once after the drain) the harness has sluice run a full garbage collection through its inspector (sluice runs with ' +
      '`--inspect=127.0.0.1:<free port>` for this; each pause is in the table, and the client\'s latencies include them) and reads heap and RSS right after: between collections V8 lets garbage pile ' +
      `up for a minute or more under load (per-second RSS rose ${formatNumber(raw.growth, 1)} MiB from the second to the last quarter ` +
      'here), which says nothing about a leak; what survives a full collection does. The readings that cover a forced ' +
      'collection\'s pause are left out of the event-loop figures.',
    '',
    '### Resources of the sluice process',
    '',
    resourceTable(run),
    '',
    '### Verdicts',
    '',
    '| check | | numbers |',
    '|---|:---:|---|',
    ...checks.map((c) => `| ${c.name} | ${c.pass ? '✓' : '✗'} | ${c.detail} |`),
    '',
    `"Flat": after a warm-up (the first ${WARMUP_FRACTION * 100} % of the load), the mean of the last quarter of the load must not exceed the ` +
      `mean of the second quarter by more than the tolerance, and neither may the least-squares line fitted to the post-warm-up readings ` +
      `rise by more than it across the window. Tolerances: RSS and heap after a full GC ${tol.memoryFraction * 100} % of their second-quarter ` +
      `mean (what survives a collection moves by a few MiB as V8 compiles code and sizes its spaces; a leak of 1 KiB per request ` +
      `would add ${formatNumber((plan.rate * plan.loadS * 0.5) / 1024)} MiB over half this run), descriptors +${tol.fds} (each client or replica ` +
      `connection is one; a leak of one per aborted request would add hundreds), event-loop delay p99 +${tol.lagMs} ms (half the ` +
      `10 ms sampling step; a loop slowed by a growing structure shows as tens of ms; judged on the quarters' medians and a ` +
      `Theil–Sen slope, because single seconds with a kill, a restart or a scavenge spike far above the rest). A short run cannot resolve slow leaks: the ` +
      `smallest steady growth this run could flag is about RSS ${formatNumber(floorPerHour(tol.memoryFraction * rss.q2Mean, rss.windowS))} MiB/h, ` +
      `descriptors ${formatNumber(floorPerHour(tol.fds, fdsWindow))}/h, delay ${formatNumber(floorPerHour(tol.lagMs, fdsWindow))} ms/h ` +
      `(tolerance ÷ the ${formatNumber(fdsWindow)} s window); \`--duration 60\` (10 min) is six times finer. The "as a rate" figures are ` +
      'the fitted slopes extrapolated, not a prediction.',
    '',
    '### Client',
    '',
    clientTable(run),
    '',
    '### Replica kills',
    '',
    killTable(run),
    '',
    '### Warnings and errors sluice logged',
    '',
    run.warnings.length === 0
      ? 'None.'
      : ['| level | message | lines |', '|---|---|---:|', ...run.warnings.map((w) => `| ${w.level} | ${w.msg} | ${w.count} |`)].join('\n'),
  ].join('\n');
}

/** RSS, descriptors, event-loop delay, replicas and client outcomes over the run, with the kills marked. */
export function soakChart(
  plan: SoakPlan,
  origin: number,
  samples: readonly SoakSample[],
  client: AbortLoadResult,
  kills: readonly KillRecord[],
): string {
  const run = { origin, samples };
  const series = (name: string, f: (s: SoakSample) => number): { name: string; points: Array<readonly [number, number]> } => ({
    name,
    points: points(run, f).map((p) => [p.t, p.v] as const),
  });
  const perSecond = (name: string, f: (c: AbortLoadResult['perSecond'][number]) => number): { name: string; points: Array<readonly [number, number]> } => ({
    name,
    points: client.perSecond.map((c, i) => [i + 0.5, f(c)] as const),
  });
  return stackedLineChart({
    title: `Soak: sluice process over ${formatNumber(plan.loadS)} s at ${plan.rate} req/s, 10 % aborts, replica kills (red)`,
    xLabel: 'seconds since the load started (negative: idle before it; the load stops at the grey line)',
    panels: [
      {
        yLabel: 'MiB',
        series: [
          series('RSS', (s) => s.rssBytes / MiB),
          series('V8 heap used', (s) => s.heapUsedBytes / MiB),
          series('RSS after full GC', rssAfterGc),
          series('heap after full GC', heapAfterGc),
        ],
      },
      { yLabel: 'descriptors', series: [series('open fds', (s) => s.fds)] },
      { yLabel: 'ms', series: [series('loop delay p99', lagP99), series('GET /metrics', (s) => s.scrapeMs)] },
      { yLabel: 'count', series: [series('replicas ready', (s) => s.readyReplicas), series('gateway in flight', (s) => s.gatewayInflight)] },
      {
        yLabel: 'requests/s',
        series: [perSecond('200', (c) => c.ok), perSecond('aborted', (c) => c.aborted), perSecond('failed', (c) => c.failed)],
      },
    ],
    markers: [
      ...kills.map((k, i) => ({ x: (k.at - origin) / 1000, label: `kill ${i + 1}`, colour: '#d62728' })),
      { x: plan.loadS, label: 'load stops', colour: '#7f7f7f' },
    ],
    bands: [{ from: 0, to: WARMUP_FRACTION * plan.loadS, label: 'warm-up' }],
  });
}
