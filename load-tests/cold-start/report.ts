/**
 * How cold-start rounds read: the markdown of the harness report, the chart of held requests and replicas over
 * time, and the plain-text summary `npm run load:cold-start` prints.
 */
import { formatNumber, median } from '../harness/stats.js';
import { stackedLineChart } from '../report/svg.js';
import type { Chart } from '../scenarios/scenario.js';
import { addedDelay, breakdown, COMPLETED, DESIRED, HELD, READY, type ColdStartOptions, type ColdStartRound } from './round.js';

/** The goal of Sluice issue 7 for the added delay, p50. */
export const GOAL_MS = 50;

export interface ColdStartRun {
  options: ColdStartOptions;
  rounds: ColdStartRound[];
  /** ms from a fresh replica's "ready" to its first answer with no Sluice in front, one per sample */
  direct: number[];
}

export function directBaseline(run: ColdStartRun): number {
  return median(run.direct);
}

export function addedDelays(run: ColdStartRun): number[] {
  const base = directBaseline(run);
  return run.rounds.map((r) => addedDelay(breakdown(r), base));
}

/** The round whose added delay is the median one (the one charted). */
export function medianRound(run: ColdStartRun): ColdStartRound {
  const added = addedDelays(run);
  const order = added.map((a, i) => [a, i] as const).sort((x, y) => x[0] - y[0]);
  return run.rounds[order[Math.floor((order.length - 1) / 2)]![1]]!;
}

const ms = (v: number, digits = 0): string => formatNumber(v, digits);

function lostLine(run: ColdStartRun): string {
  const n = run.options.requests;
  const coldLost = run.rounds.reduce((s, r) => s + r.cold.lost, 0);
  const warmLost = run.rounds.reduce((s, r) => s + r.warm.lost, 0);
  const extra = run.rounds.reduce((s, r) => s + Math.max(0, r.replicaPredictions - r.clientAnswers), 0);
  const verdict = coldLost + warmLost === 0 && extra === 0 ? 'every request answered exactly once' : '**requests were lost or served twice**';
  const failures = run.rounds.flatMap((r) => [...r.cold.failures, ...r.warm.failures]).slice(0, 5);
  return [
    `Requests lost: **${coldLost}** of ${n * run.rounds.length} cold and ${warmLost} of ${n * run.rounds.length} warm; ` +
      `replicas counted ${run.rounds.reduce((s, r) => s + r.replicaPredictions, 0)} predictions for ` +
      `${run.rounds.reduce((s, r) => s + r.clientAnswers, 0)} successful answers (${verdict}).`,
    ...failures.map((f) => `- ${f}`),
  ].join('\n');
}

export function coldStartMarkdown(run: ColdStartRun): string {
  const o = run.options;
  const added = addedDelays(run);
  const headline = median(added);
  const base = directBaseline(run);
  const met = headline <= GOAL_MS;
  const rows = run.rounds.map((r, i) => ({ i: i + 1, b: breakdown(r), added: added[i]!, r }));
  const med = (f: (x: (typeof rows)[number]) => number): string => ms(median(rows.map(f)), 1);
  return [
    `From zero, **${formatNumber(o.requests)} concurrent POSTs** with ${formatNumber(o.bodyBytes)}-byte bodies at one revision on the demo ` +
      `runtime (replica start-up ${formatNumber(o.startupDelayMs)} ms, containerConcurrency ${o.containerConcurrency}, ` +
      `maxReplicas ${o.maxReplicas}); a fresh \`sluice serve\` per round, ${run.rounds.length} round(s).`,
    '',
    `**Added delay beyond the replica's own start-up, p50: ${ms(headline, 1)} ms** (median of ${run.rounds.length} round(s); ` +
      `rounds ${added.map((a) => ms(a, 1)).join(', ')} ms). Goal ≤ ${GOAL_MS} ms: **${met ? 'met' : 'not met'}**.`,
    '',
    lostLine(run),
    '',
    '### Where the time goes',
    '',
    'All times in ms, from Sluice\'s log (the activator\'s "holding requests" line, the backend\'s "replica starting" and ' +
      '"replica ready"), the replica\'s own "ready" line and the client\'s clock.',
    '',
    '| round | burst sent → first held | wake-up (held → spawned) | replica start-up (excluded) | ready → announced | ready → first answer | direct ready → first answer | **added delay** | lost |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      ({ i, b, added: a, r }) =>
        `| ${i} | ${ms(b.rampMs)} | ${ms(b.wakeMs)} | ${ms(b.startupMs)} | ${ms(b.readyToAnnouncedMs)} | ${ms(b.readyToFirstMs)} | ${ms(base, 1)} | **${ms(a, 1)}** | ${r.cold.lost} |`,
    ),
    `| median | ${med((x) => x.b.rampMs)} | ${med((x) => x.b.wakeMs)} | ${med((x) => x.b.startupMs)} | ${med((x) => x.b.readyToAnnouncedMs)} | ${med((x) => x.b.readyToFirstMs)} | ${ms(base, 1)} | **${ms(headline, 1)}** | |`,
    '',
    `Direct baseline: median of ${run.direct.length} fresh replicas with no Sluice in front (${run.direct.map((d) => ms(d)).join(', ')} ms). ` +
      `Its spread (${ms(Math.max(...run.direct) - Math.min(...run.direct))} ms here) is what the machine alone adds to the same ` +
      'measurement from one try to the next; differences in the added delay smaller than that are noise, and a ' +
      'negative added delay means the baseline happened to be slower than the run through Sluice.',
    '',
    '### Latency percentiles (ms, at the client)',
    '',
    '| round | cold p50 | cold p90 | cold p99 | cold max | warm p50 | warm p90 | warm p99 | warm max | warm single p50 | sluice RSS after (MiB) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...run.rounds.map((r, i) => {
      const c = r.coldLatency;
      const w = r.warmLatency;
      return `| ${i + 1} | ${ms(c.p50)} | ${ms(c.p90)} | ${ms(c.p99)} | ${ms(c.max)} | ${ms(w.p50)} | ${ms(w.p90)} | ${ms(w.p99)} | ${ms(w.max)} | ${ms(r.warmSingleP50, 2)} | ${ms(r.rssMiB, 1)} |`;
    }),
    '',
    `The cold burst's latencies are dominated by the replica's ${formatNumber(o.startupDelayMs)} ms start-up and by its ` +
      `${o.containerConcurrency}-at-a-time service of ${formatNumber(o.requests)} requests; the warm burst is the same queue ` +
      'without the start-up.',
    '',
    '### How the added delay is defined',
    '',
    'An ideal activator would spawn the replica the instant the first request arrives and hand it requests the instant ' +
      'it is ready. Requests would then be served the same number at a time, in the same order, with the same service ' +
      'times; the real schedule is that ideal one shifted by a constant, so every request\'s added delay (and its p50) ' +
      'is that shift:',
    '',
    '- (first request held → replica spawned): Sluice\'s wake-up path (poke, scale, port, spawn)',
    '- \\+ (replica\'s own "ready" → first answer at the client): probe, announce, dispatch, forward, first request',
    '- − (the same for a client talking directly to a fresh replica the moment it logs "ready"): what the replica ' +
      'itself costs on its first requests, measured here too (one fresh replica per round, at least three).',
    '',
    'The replica\'s own start-up (spawn → its "ready" line, Node\'s boot included) is excluded by definition. ' +
      `The chart shows the round with the median added delay; /metrics was sampled every ${o.sampleEveryMs} ms during the cold burst.`,
  ].join('\n');
}

export function coldStartChart(round: ColdStartRound): Chart {
  const at = (wall: number): number => (wall - round.burstAt) / 1000;
  const series = (name: string, key: string, step = false) => ({
    name,
    step,
    points: round.samples.map((s) => [s.t, s.values[key] ?? Number.NaN] as const),
  });
  const t = round.timeline;
  return {
    name: 'timeline',
    svg: stackedLineChart({
      title: 'Cold-start burst: held requests and replicas over time',
      xLabel: 'seconds since the burst was sent',
      panels: [
        { yLabel: 'requests', series: [series('held requests', HELD), series('responses completed (client)', COMPLETED)] },
        { yLabel: 'replicas', integer: true, series: [series('desired replicas', DESIRED, true), series('ready replicas', READY, true)] },
      ],
      markers: [
        { x: at(t.heldAt), label: 'first held' },
        { x: at(t.spawnAt), label: 'spawned' },
        { x: at(t.replicaReadyAt), label: 'replica ready' },
        { x: at(t.announcedAt), label: 'announced' },
        { x: at(round.firstAnswerAt), label: 'first answer' },
      ],
      width: 900,
    }),
  };
}

/** The plain-text summary of one run (what `npm run load:cold-start` prints). */
export function coldStartText(run: ColdStartRun): string {
  const o = run.options;
  const base = directBaseline(run);
  const added = addedDelays(run);
  const f = (x: number): string => `${x.toFixed(1)} ms`;
  const lines = [
    `cold-start burst: ${o.requests} concurrent requests with ${o.bodyBytes}-byte bodies, containerConcurrency ${o.containerConcurrency}, ` +
      `maxReplicas ${o.maxReplicas}, start-up delay ${o.startupDelayMs} ms, ${run.rounds.length} round(s)`,
  ];
  run.rounds.forEach((r, i) => {
    const b = breakdown(r);
    const ok = r.cold.lost === 0 && r.warm.lost === 0 && r.replicaPredictions === r.clientAnswers;
    lines.push(
      `round ${i + 1}:`,
      ok
        ? `  all ${o.requests} succeeded exactly once (cold) and again warm; replicas counted ${r.replicaPredictions} predictions (2×${o.requests} + 21)`
        : `  LOST: ${r.cold.lost} cold, ${r.warm.lost} warm; replicas counted ${r.replicaPredictions} predictions for ${r.clientAnswers} answers; ${[...r.cold.failures, ...r.warm.failures].slice(0, 3).join('; ')}`,
      `  burst sent → first request held (client connection ramp): ${f(b.rampMs)}`,
      `  replica's own start-up (spawn → its "ready" log):         ${f(b.startupMs)}`,
      `  wake-up (first request held → replica spawned):           ${f(b.wakeMs)}`,
      `  replica ready → announced (backend probe):                ${f(b.readyToAnnouncedMs)}`,
      `  replica ready → first response at the client:             ${f(b.readyToFirstMs)}`,
      `  warm single request latency through Sluice (p50 of 21):   ${f(r.warmSingleP50)}`,
      `  cold burst latency p50 / p99 / max:  ${f(r.coldLatency.p50)} / ${f(r.coldLatency.p99)} / ${f(r.coldLatency.max)}`,
      `  warm burst latency p50 / p99 / max:  ${f(r.warmLatency.p50)} / ${f(r.warmLatency.p99)} / ${f(r.warmLatency.max)}`,
      `  added delay beyond the replica's start-up, p50:           ${f(added[i]!)}`,
      `  sluice RSS after: ${r.rssMiB.toFixed(1)} MiB`,
    );
  });
  lines.push(
    `direct, no Sluice: fresh replica "ready" → first response: ${f(base)}  (median of ${run.direct.map((d) => d.toFixed(0)).join(', ')})`,
    `ADDED DELAY beyond the replica's start-up, p50 (median of rounds): ${f(median(added))}   (goal ≤ ${GOAL_MS} ms: ${median(added) <= GOAL_MS ? 'met' : 'NOT met'})`,
  );
  return lines.join('\n');
}

/** True when every request of every round was answered exactly once. */
export function nothingLost(run: ColdStartRun): boolean {
  return run.rounds.every((r) => r.cold.lost === 0 && r.warm.lost === 0 && r.replicaPredictions === r.clientAnswers);
}
