import { rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { configFolder, demoService } from '../../test/support/embedded.js';
import type { RequestShape } from '../harness/load-result.js';
import { runOpenLoopPhases, type ArrivalOutcome, type RatePhase } from '../harness/open-loop.js';
import { latencyBetween, statusTotals, tallyPerSecond, type StatusTotals } from '../harness/outcome-tally.js';
import { sumSeries } from '../harness/prometheus-text.js';
import { startSampler } from '../harness/sampler.js';
import { formatNumber, median, medianOrNull } from '../harness/stats.js';
import { stackedLineChart } from '../report/svg.js';
import { verdict } from '../report/tables.js';
import { startSluiceProcess, type SluiceProcess } from '../support/sluice-process.js';
import { overProvisioning, replicasNeeded, timeToCover } from './coverage.js';
import type { Scenario, ScenarioContext, ScenarioOutput } from './scenario.js';

/** The revision under load: the demo runtime as a stand-in model with a fixed service time and worker slots. */
const REVISION = {
  name: 'steps',
  containerConcurrency: 4,
  latencyMs: 50,
  /** the replica reports ready this long after it starts (a model load) */
  startupDelayMs: 1000,
  minReplicas: 1,
  maxReplicas: 8,
  /** Knative's smallest stable window; the panic window is then 1 s (10 %, at least 1 s) */
  window: '6s',
};
/** what one replica serves at full use: containerConcurrency requests every latencyMs */
const PER_REPLICA_RPS = (REVISION.containerConcurrency * 1000) / REVISION.latencyMs;
const MAX_RPS = PER_REPLICA_RPS * REVISION.maxReplicas;
const BASE_FRACTION = 0.1;
const STEP_FRACTION = 0.6;
const SPIKE_OF_STEP = 1.5;
const SAMPLE_MS = 250;
/** the autoscaler's default target utilisation (docs/autoscaling.md) */
const TARGET_UTILIZATION = 0.7;
/** the generator opens up to this many connections, so a backlog waits in Sluice (held), not in the client */
const MIN_CONNECTIONS = 1024;
const REVISION_NAME = `${REVISION.name}-predictor-00001`;

const REQUEST: RequestShape = {
  method: 'POST',
  path: `/v1/models/${REVISION.name}:predict`,
  body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }),
  headers: { 'content-type': 'application/json' },
};

interface Sample {
  t: number;
  /** from the admin API: the backend's live counts */
  ready: number;
  desired: number;
  /** the sluice_ready_replicas gauge (follows endpoint events; kept to check it agrees with the admin API) */
  readyGauge: number;
  held: number;
  inflight: number;
}

interface Levels {
  base: number;
  step: number;
  spike: number;
}

interface Timeline {
  phases: RatePhase[];
  /** ms from the start of the load */
  stepAt: number;
  spikeAt: number;
  backAt: number;
  endAt: number;
}

interface StepRound {
  /** the autoscaler asked for enough replicas (desired ≥ needed) */
  decidedStepMs: number | null;
  decidedSpikeMs: number | null;
  coverStepMs: number | null;
  coverStepGaugeMs: number | null;
  coverSpikeMs: number | null;
  coverSpikeGaugeMs: number | null;
  overStep: number;
  /** what the autoscaler itself aims at over the same window: ⌈mean in-flight ÷ (slots × 70 %)⌉ ÷ needed */
  designStep: number;
  overAfter: number;
  maxHeld: number;
  maxDesired: number;
  maxReady: number;
  totals: StatusTotals;
  latency: Array<{ p50: number; p99: number; max: number }>;
  series: { samples: Sample[]; served: Array<readonly [number, number]>; failed: Array<readonly [number, number]> };
  samplerFailures: number;
}

/** Phase lengths scale with --duration D: base max(3, D/2), step 1.5 D, spike max(2, D/2), back at the step level D. */
export function stepTimeline(durationS: number, levels: Levels): Timeline {
  const base = Math.max(3, durationS / 2);
  const step = 1.5 * durationS;
  const spike = Math.max(2, durationS / 2);
  const after = durationS;
  const phases = [
    { rate: levels.base, durationS: base },
    { rate: levels.step, durationS: step },
    { rate: levels.spike, durationS: spike },
    { rate: levels.step, durationS: after },
  ];
  const stepAt = base * 1000;
  const spikeAt = stepAt + step * 1000;
  const backAt = spikeAt + spike * 1000;
  return { phases, stepAt, spikeAt, backAt, endAt: backAt + after * 1000 };
}

/**
 * Step and spike: `sluice serve` as a child with the local backend and real demo-runtime replicas; an open-loop
 * load steps from 10 % to 60 % of the revision's maximum capacity, spikes to 150 % of the step, and comes back.
 * Measures how long ready capacity takes to cover the demand and how much it over-provisions once settled.
 */
export const stepSpike: Scenario = {
  name: 'step-spike',
  title: 'Step and spike: time for ready replicas to cover demand, over-provisioning after',
  systems: ['sluice'],
  needs: ['sluice'],
  run: async (ctx) => {
    const stepRate = ctx.settings.rate ?? Math.round(MAX_RPS * STEP_FRACTION);
    const levels: Levels = {
      base: Math.max(1, Math.round((stepRate * BASE_FRACTION) / STEP_FRACTION)),
      step: stepRate,
      spike: Math.round(stepRate * SPIKE_OF_STEP),
    };
    const timeline = stepTimeline(ctx.settings.durationS, levels);
    const rounds: StepRound[] = [];
    for (let r = 0; r < ctx.settings.rounds; r++) {
      const round = await stepRound(ctx, levels, timeline);
      rounds.push(round);
      ctx.log(
        `step-spike round ${r + 1}: step covered after ${fmtMs(round.coverStepMs)}, spike after ${fmtMs(round.coverSpikeMs)}, max held ${round.maxHeld}, non-2xx ${round.totals.non2xx}, 5xx ${round.totals.status5xx}`,
      );
    }
    return report(ctx, rounds, levels, timeline);
  },
};

async function stepRound(ctx: ScenarioContext, levels: Levels, timeline: Timeline): Promise<StepRound> {
  const dir = configFolder({
    [`${REVISION.name}.yaml`]: demoService(REVISION.name, {
      annotations: { 'autoscaling.knative.dev/window': REVISION.window },
      predictor: `    minReplicas: ${REVISION.minReplicas}\n    maxReplicas: ${REVISION.maxReplicas}\n    containerConcurrency: ${REVISION.containerConcurrency}\n`,
      env: {
        SLUICE_DEMO_LATENCY_MS: String(REVISION.latencyMs),
        SLUICE_DEMO_MAX_CONCURRENCY: String(REVISION.containerConcurrency),
        SLUICE_DEMO_STARTUP_DELAY_MS: String(REVISION.startupDelayMs),
      },
    }),
  });
  let sluice: SluiceProcess | undefined;
  try {
    sluice = await startSluiceProcess(dir, { children: ctx.children });
    const running = sluice;
    const statusUrl = `${running.adminUrl}/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/${REVISION.name}`;
    const take = async (): Promise<Sample> => {
      const [status, metrics] = await Promise.all([
        fetch(statusUrl, { headers: running.adminHeaders }).then((r) => r.json() as Promise<{ status?: { revisions?: Array<{ name: string; readyReplicas?: number; desiredReplicas?: number }> } }>),
        fetch(`${running.metricsUrl}/metrics`).then((r) => r.text()),
      ]);
      const rev = status.status?.revisions?.find((x) => x.name === REVISION_NAME);
      const g = sumSeries(metrics, ['sluice_ready_replicas', 'sluice_activator_held_requests', 'sluice_inflight_requests'], { revision: REVISION_NAME });
      return {
        t: performance.now(),
        ready: rev?.readyReplicas ?? 0,
        desired: rev?.desiredReplicas ?? 0,
        readyGauge: g.get('sluice_ready_replicas') ?? 0,
        held: g.get('sluice_activator_held_requests') ?? 0,
        inflight: g.get('sluice_inflight_requests') ?? 0,
      };
    };
    await untilReady(take, REVISION.minReplicas, 30_000);
    const sampler = startSampler(SAMPLE_MS, take);
    const outcomes: ArrivalOutcome[] = [];
    let start = 0;
    try {
      await runOpenLoopPhases(running.dataUrl, REQUEST, timeline.phases, Math.max(ctx.settings.openLoopConnections, MIN_CONNECTIONS), {
        onStart: (t0) => {
          start = t0;
        },
        onOutcome: (o) => outcomes.push(o),
      });
    } finally {
      await sampler.stop();
    }
    const at = (offsetMs: number): number => start + offsetMs;
    const samples = [...sampler.samples].sort((a, b) => a.t - b.t);
    const live = samples.map((s) => ({ t: s.t, ready: s.ready }));
    const gauge = samples.map((s) => ({ t: s.t, ready: s.readyGauge }));
    const desired = samples.map((s) => ({ t: s.t, ready: s.desired }));
    const neededStep = replicasNeeded(levels.step, PER_REPLICA_RPS);
    const neededSpike = replicasNeeded(levels.spike, PER_REPLICA_RPS);
    const stepHold = timeline.spikeAt - timeline.stepAt;
    const afterHold = timeline.endAt - timeline.backAt;
    const inLoad = samples.filter((s) => s.t >= start && s.t <= at(timeline.endAt));
    const seconds = Math.ceil(timeline.endAt / 1000);
    const perSecond = tallyPerSecond(outcomes, start, seconds);
    const bounds = [0, timeline.stepAt, timeline.spikeAt, timeline.backAt, timeline.endAt];
    return {
      decidedStepMs: timeToCover(desired, at(timeline.stepAt), at(timeline.spikeAt), neededStep),
      decidedSpikeMs: timeToCover(desired, at(timeline.spikeAt), at(timeline.backAt), neededSpike),
      coverStepMs: timeToCover(live, at(timeline.stepAt), at(timeline.spikeAt), neededStep),
      coverStepGaugeMs: timeToCover(gauge, at(timeline.stepAt), at(timeline.spikeAt), neededStep),
      coverSpikeMs: timeToCover(live, at(timeline.spikeAt), at(timeline.backAt), neededSpike),
      coverSpikeGaugeMs: timeToCover(gauge, at(timeline.spikeAt), at(timeline.backAt), neededSpike),
      overStep: overProvisioning(live, at(timeline.stepAt + stepHold / 2), at(timeline.spikeAt), neededStep),
      designStep:
        Math.min(
          REVISION.maxReplicas,
          replicasNeeded(
            overProvisioning(samples.map((x) => ({ t: x.t, ready: x.inflight })), at(timeline.stepAt + stepHold / 2), at(timeline.spikeAt), 1),
            REVISION.containerConcurrency * TARGET_UTILIZATION,
          ),
        ) / neededStep,
      overAfter: overProvisioning(live, at(timeline.backAt + afterHold / 2), at(timeline.endAt), neededStep),
      maxHeld: Math.max(0, ...inLoad.map((s) => s.held)),
      maxDesired: Math.max(0, ...inLoad.map((s) => s.desired)),
      maxReady: Math.max(0, ...inLoad.map((s) => s.ready)),
      totals: statusTotals(outcomes),
      latency: bounds.slice(0, -1).map((b, k) => latencyBetween(outcomes, at(b), at(bounds[k + 1] as number))),
      series: {
        samples: inLoad.map((s) => ({ ...s, t: (s.t - start) / 1000 })),
        served: perSecond.map((p) => [p.second - 0.5, p.ok] as const),
        failed: perSecond.map((p) => [p.second - 0.5, p.non2xx + p.errors] as const),
      },
      samplerFailures: sampler.failures(),
    };
  } finally {
    await sluice?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function untilReady(take: () => Promise<Sample>, replicas: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await take().catch(() => undefined);
    if (s && s.ready >= replicas) return;
    if (Date.now() > deadline) throw new Error(`step-spike: ${REVISION_NAME} had no ${replicas} ready replica(s) within ${timeoutMs} ms`);
    await sleep(100);
  }
}

const fmtMs = (v: number | null): string => (v === null ? 'not covered' : `${formatNumber(v)} ms`);
const fmtRatio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '–');

function report(ctx: ScenarioContext, rounds: StepRound[], levels: Levels, timeline: Timeline): ScenarioOutput {
  const s = ctx.settings;
  const m = (f: (r: StepRound) => number): number => median(rounds.map(f));
  const sum = (f: (r: StepRound) => number): number => rounds.reduce((a, r) => a + f(r), 0);
  const neededStep = replicasNeeded(levels.step, PER_REPLICA_RPS);
  const neededSpike = replicasNeeded(levels.spike, PER_REPLICA_RPS);
  const fiveXx = sum((r) => r.totals.status5xx);
  const non2xx = sum((r) => r.totals.non2xx);
  const errors = sum((r) => r.totals.errors);
  const statuses = new Map<number, number>();
  for (const r of rounds) for (const [code, n] of r.totals.byStatus) statuses.set(code, (statuses.get(code) ?? 0) + n);
  const coverStep = medianOrNull(rounds.map((r) => r.coverStepMs));
  const coverSpike = medianOrNull(rounds.map((r) => r.coverSpikeMs));
  const phaseS = (a: number, b: number): string => `${formatNumber((b - a) / 1000, 1)} s`;
  const verdicts = [
    verdict('**5xx**', `${fiveXx}${fiveXx > 0 ? ` — FAILURE (${[...statuses].filter(([c]) => c >= 500).map(([c, n]) => `${c}×${n}`).join(', ')})` : ''}`, fiveXx === 0),
    verdict('non-2xx', `${non2xx}${statuses.size > 0 ? ` (${[...statuses].map(([c, n]) => `${c}×${n}`).join(', ')})` : ''}`, non2xx === 0),
    verdict('transport errors (no answer)', String(errors), errors === 0),
    verdict(`step covered: ready replicas ≥ ${neededStep} within the step phase (median)`, fmtMs(coverStep), coverStep !== null),
    verdict(`spike covered: ready replicas ≥ ${neededSpike} within the spike phase (median)`, fmtMs(coverSpike), coverSpike !== null),
  ];
  const roundRows = rounds.map(
    (r, i) =>
      `| ${i + 1} | ${fmtMs(r.decidedStepMs)} | ${fmtMs(r.coverStepMs)} | ${fmtMs(r.coverStepGaugeMs)} | ${fmtMs(r.decidedSpikeMs)} | ${fmtMs(r.coverSpikeMs)} | ${fmtMs(r.coverSpikeGaugeMs)} | ${fmtRatio(r.overStep)} | ${fmtRatio(r.designStep)} | ${fmtRatio(r.overAfter)} | ${r.maxReady} / ${r.maxDesired} | ${r.maxHeld} | ${r.totals.non2xx} | ${r.totals.status5xx} | ${r.totals.errors} |`,
  );
  const medianRow = `| **median** | ${fmtMs(medianOrNull(rounds.map((r) => r.decidedStepMs)))} | ${fmtMs(coverStep)} | ${fmtMs(medianOrNull(rounds.map((r) => r.coverStepGaugeMs)))} | ${fmtMs(medianOrNull(rounds.map((r) => r.decidedSpikeMs)))} | ${fmtMs(coverSpike)} | ${fmtMs(medianOrNull(rounds.map((r) => r.coverSpikeGaugeMs)))} | ${fmtRatio(m((r) => r.overStep))} | ${fmtRatio(m((r) => r.designStep))} | ${fmtRatio(m((r) => r.overAfter))} | ${m((r) => r.maxReady)} / ${m((r) => r.maxDesired)} | ${m((r) => r.maxHeld)} | ${non2xx} (sum) | ${fiveXx} (sum) | ${errors} (sum) |`;
  const phaseNames = [
    `base, ${levels.base} req/s`,
    `step, ${levels.step} req/s`,
    `spike, ${levels.spike} req/s`,
    `back at the step, ${levels.step} req/s`,
  ];
  const latencyRows = phaseNames.map(
    (name, k) =>
      `| ${name} | ${formatNumber(m((r) => r.latency[k]?.p50 ?? Number.NaN), 1)} | ${formatNumber(m((r) => r.latency[k]?.p99 ?? Number.NaN), 1)} | ${formatNumber(m((r) => r.latency[k]?.max ?? Number.NaN), 1)} |`,
  );
  const explain503 =
    statuses.has(503)
      ? ' 503s come from a bound: the activator refuses a request past its hold limits or deadline, or a replica past its own queue (1000); neither should bite at these rates, so they count as failures here.'
      : '';
  const markdown = [
    `**System**: \`sluice serve\` (child process, embedded, local backend) with one InferenceService \`${REVISION.name}\` on the demo runtime: each replica is a real process holding a worker slot ${REVISION.latencyMs} ms per prediction, ${REVISION.containerConcurrency} slots (\`containerConcurrency: ${REVISION.containerConcurrency}\`), ready ${REVISION.startupDelayMs} ms after it starts (a model load); \`minReplicas: ${REVISION.minReplicas}\`, \`maxReplicas: ${REVISION.maxReplicas}\`, \`autoscaling.knative.dev/window: ${REVISION.window}\` (panic window 1 s), other autoscaler settings at their defaults (70 % target utilisation, a decision every 2 s).`,
    `**Capacity**: one replica serves ${PER_REPLICA_RPS} req/s at full use (${REVISION.containerConcurrency} slots ÷ ${REVISION.latencyMs} ms), so ${REVISION.maxReplicas} serve ${MAX_RPS}. **Ready capacity** = ready replicas × ${PER_REPLICA_RPS} req/s; demand is covered when ready replicas ≥ ⌈demand ÷ ${PER_REPLICA_RPS}⌉ (${neededStep} at the step, ${neededSpike} at the spike). Ready replicas are the backend's live count from the admin API; the \`sluice_ready_replicas\` gauge (column "gauge", from /metrics) follows endpoint events and should agree within one sample.`,
    `**Load**: open loop, ${REQUEST.method} ${REQUEST.path}, up to ${Math.max(s.openLoopConnections, MIN_CONNECTIONS)} connections: ${levels.base} req/s (${formatNumber((levels.base / MAX_RPS) * 100)} % of ${MAX_RPS}) for ${phaseS(0, timeline.stepAt)}, **step** to ${levels.step} req/s (${formatNumber((levels.step / MAX_RPS) * 100)} %${s.rate === undefined ? '' : ', set with --rate'}) for ${phaseS(timeline.stepAt, timeline.spikeAt)}, **spike** to ${levels.spike} req/s (${formatNumber(SPIKE_OF_STEP * 100)} % of the step) for ${phaseS(timeline.spikeAt, timeline.backAt)}, back to ${levels.step} req/s for ${phaseS(timeline.backAt, timeline.endAt)}.${levels.spike > MAX_RPS ? ` **The spike asks for more than ${REVISION.maxReplicas} replicas can serve (${MAX_RPS} req/s): it cannot be covered, and the backlog grows until it ends.**` : ''} /metrics and the admin API sampled every ${SAMPLE_MS} ms (times are exact to that). ${s.rounds} round(s), each with a fresh \`sluice serve\`.`,
    `**Over-provisioning** = time-weighted mean of ready replicas ÷ replicas needed at full use, over the settled part: the second half of the step hold, and the second half of the time back at the step level after the spike (panic mode never scales down, so the spike's replicas may still be there). The autoscaler aims at ${TARGET_UTILIZATION * 100} % of the slots: "(the autoscaler’s aim)" is ⌈mean in-flight ÷ (${REVISION.containerConcurrency} × ${TARGET_UTILIZATION})⌉ ÷ needed over the same window (in-flight counts the gateway's own time too, so it is a little above demand × ${REVISION.latencyMs} ms) — over-provisioning up to that is by design, beyond it is waste. Ready capacity is nominal: a replica's real rate is a little below ${PER_REPLICA_RPS} req/s (its own handling on top of the ${REVISION.latencyMs} ms, on a shared CPU), so near full capacity a small backlog can still build (the held panel shows it).`,
    '### Verdict',
    verdicts.map((v) => `- ${v}`).join('\n'),
    '### Per round',
    [
      '| round | step: desired ≥ needed after | ready ≥ needed after | (gauge) | spike: desired ≥ needed after | ready ≥ needed after | (gauge) | over-provisioning, step settled | (the autoscaler’s aim) | after the spike | max ready / desired | max held | non-2xx | 5xx | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...roundRows,
      medianRow,
    ].join('\n'),
    '### Latency per phase (ms from the intended send time, medians over rounds)',
    ['| phase | p50 | p99 | max |', '|---|---:|---:|---:|', ...latencyRows].join('\n'),
    `"desired ≥ needed after" is the autoscaler's part (it decides every 2 s; a poke wakes it at once only for a revision at zero); from there to "ready ≥ needed" is the replicas' start (spawn, ${REVISION.startupDelayMs} ms model load, readiness probe). 0 ms: enough replicas were already there when demand rose. Held requests wait in the activator while no replica has a free slot; their wait is in the step's latency.${explain503}${rounds.some((r) => r.samplerFailures > 0) ? ` Samples that failed: ${sum((r) => r.samplerFailures)}.` : ''}`,
  ].join('\n\n');
  const last = rounds[rounds.length - 1] as StepRound;
  const demand: Array<readonly [number, number]> = [];
  let t = 0;
  for (const p of timeline.phases) {
    demand.push([t, p.rate], [t + p.durationS, p.rate]);
    t += p.durationS;
  }
  const pts = (f: (x: Sample) => number): Array<readonly [number, number]> => last.series.samples.map((x) => [x.t, f(x)] as const);
  const needed: Array<readonly [number, number]> = demand.map(([x, rate]) => [x, replicasNeeded(rate, PER_REPLICA_RPS)] as const);
  const chart = stackedLineChart({
    title: `Step and spike: demand, capacity and replicas (last round)`,
    xLabel: 'seconds since the load started',
    markers: [
      { x: timeline.stepAt / 1000, label: 'step' },
      { x: timeline.spikeAt / 1000, label: 'spike' },
      { x: timeline.backAt / 1000, label: 'spike ends' },
    ],
    panels: [
      {
        yLabel: 'requests/s',
        series: [
          { name: 'demand (offered)', points: demand },
          { name: 'served (2xx/s)', points: last.series.served },
          { name: 'ready capacity', points: pts((x) => x.ready * PER_REPLICA_RPS) },
          { name: 'failed', points: last.series.failed },
        ],
      },
      {
        yLabel: 'replicas',
        yMax: REVISION.maxReplicas + 2,
        series: [
          { name: 'desired', points: pts((x) => x.desired) },
          { name: 'ready', points: pts((x) => x.ready) },
          { name: 'needed at full use', points: needed },
        ],
      },
      {
        yLabel: 'requests',
        series: [
          { name: 'held (activator)', points: pts((x) => x.held) },
          { name: 'in flight (gateway)', points: pts((x) => x.inflight) },
        ],
      },
    ],
  });
  return { markdown, charts: [{ name: 'replicas', svg: chart }] };
}
