import type { AutoscalingSpec } from '../../api/revision.js';
import type { MetricBucket } from '../../core/store.js';
import { observe, observedSeconds, windowSeconds } from '../observe.js';
import { initialScaleState, scaleStep, type ScaleState, type ScaleStepInput } from '../pipeline.js';
import { GpuAllocator, replicasThatFit } from '../policies/gpu.js';
import { IdleGapHistogram } from '../policies/keep-warm.js';
import { ServiceTimeTracker, StartupTracker } from '../policies/startup.js';
import { AUTOSCALING_DEFAULTS, deciderSettings, type DeciderSettings, type DeciderSettingsOptions } from '../settings.js';
import { MinHeap } from './heap.js';
import type { TraceRequest } from './trace.js';

/** The revision settings a simulation runs with (what `sluice simulate` reads from the InferenceService). */
export interface SimRevision {
  autoscaling: AutoscalingSpec;
  /** 0 = unbounded (then each replica takes any number of requests). */
  containerConcurrency: number;
  /** GPUs per replica by resource name; empty for a CPU revision. */
  gpus?: Record<string, number>;
  /** Settings without an InferenceService field (window algorithm, keep-warm). */
  settingsOptions?: DeciderSettingsOptions;
}

export interface SimOptions {
  /** Time from asking for a replica to it being ready (default 10 s; 30 s for a GPU revision). */
  startupMs?: number;
  /** Devices per GPU resource name in the simulated inventory (default: unlimited, no capacity cap). */
  gpuCount?: number;
  /** Decision period (default 2 s, as the autoscaler). */
  tickMs?: number;
  /**
   * Where in the second the decisions fall, ms after the second starts (default 0; at most tickMs − 1). A decision
   * sees only whole seconds before it, as the loop sees only the collector's completed buckets: at phase 596 a
   * request that arrived at .468 of the same second is not in any window yet. The real loop runs at whatever phase
   * it started with.
   */
  tickPhaseMs?: number;
  /** A held request is rejected after waiting this long (default 300 s, the activator's hold deadline). */
  holdTimeoutMs?: number;
  /** Most requests held at once; more are rejected (default 10 000). */
  maxHeld?: number;
  /** Points kept in the timeline for the picture (default 1 200; each is the max over its span). */
  timelinePoints?: number;
  /** Simulate past the last request until this much idle time has passed (default: grace + retention + 2 windows). */
  drainMs?: number;
  /** Label shown in the report and the picture. */
  label?: string;
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface TimelinePoint {
  /** ms from the start of the trace. */
  t: number;
  /** In-flight requests (held + running), the collector's view of demand. */
  demand: number;
  /** Demand in replicas: demand ÷ per-replica target. */
  demandReplicas: number;
  desired: number;
  ready: number;
  held: number;
}

export interface SimReport {
  label: string;
  settings: {
    metric: 'concurrency' | 'rps';
    target: number;
    containerConcurrency: number;
    stableWindowSeconds: number;
    scaleToZeroGraceSeconds: number;
    scaleToZeroRetentionSeconds: number;
    keepWarm: string;
    windowAlgorithm: string;
    startupAware: boolean;
    startupSeconds: number;
    gpusPerReplica: number;
    gpuCount: number | null;
    minScale: number;
    maxScale: number;
  };
  durationSeconds: number;
  requests: number;
  served: number;
  rejected: number;
  /** Requests that arrived while the revision had no ready replica and waited for one to start. */
  coldStarts: number;
  /** Times the revision was scaled up from zero. */
  scaleFromZero: number;
  /** Wait in the activator over every served request, ms. */
  waitMs: Percentiles;
  /** Wait over the requests that were held at all, ms. */
  heldWaitMs: Percentiles;
  held: number;
  replicaSeconds: number;
  gpuSeconds: number;
  peakReplicas: number;
  scaleEvents: number;
  panicSeconds: number;
  /** Seconds during which the GPU cap lowered the decision. */
  gpuCapacityLimitedSeconds: number;
  /** Last decision reasons, counted. */
  reasons: Record<string, number>;
  timeline: TimelinePoint[];
}

interface Replica {
  id: number;
  askedAt: number;
  readyAt: number | null;
  inflight: number;
  draining: boolean;
  gone: boolean;
}

interface Req {
  arrival: number;
  duration: number;
  cold: boolean;
  wasHeld: boolean;
}

type Ev = { at: number; kind: 'ready'; replica: Replica } | { at: number; kind: 'done'; replica: Replica; req: Req };

/**
 * Replays a trace through the real observation and scaling step (observe → scaleStep: what the Autoscaler loop
 * runs on every tick and poke) on a virtual clock, with a simulated backend (start-up time, containerConcurrency per replica,
 * GPU inventory) and activator (hold queue with deadline and bound). Deterministic; no timers, no I/O.
 */
export function simulate(rev: SimRevision, trace: readonly TraceRequest[], opts: SimOptions = {}): SimReport {
  const gpus = rev.gpus ?? {};
  const s: DeciderSettings = deciderSettings(rev.autoscaling, rev.containerConcurrency, { gpus, ...(rev.settingsOptions ?? {}) });
  const isGpu = s.gpusPerReplica > 0;
  const startupMs = opts.startupMs ?? (isGpu ? 30_000 : 10_000);
  const tickMs = opts.tickMs ?? AUTOSCALING_DEFAULTS.tickSeconds * 1000;
  const tickPhaseMs = opts.tickPhaseMs ?? 0;
  if (!Number.isInteger(tickPhaseMs) || tickPhaseMs < 0 || tickPhaseMs >= tickMs)
    throw new RangeError(`tickPhaseMs must be an integer in [0, ${tickMs - 1}] (below tickMs), got ${tickPhaseMs}`);
  const holdTimeoutMs = opts.holdTimeoutMs ?? 300_000;
  const maxHeld = opts.maxHeld ?? 10_000;
  const capacity = rev.containerConcurrency > 0 ? rev.containerConcurrency : Infinity;
  const inventory =
    isGpu && opts.gpuCount !== undefined
      ? new GpuAllocator(Object.keys(gpus).flatMap((name) => Array.from({ length: opts.gpuCount! }, (_, i) => ({ resourceName: name, id: String(i) }))))
      : null;
  const KEY = 'sim/revision';
  const { stableSeconds } = windowSeconds(s);

  // --- state
  const replicas: Replica[] = [];
  let nextReplicaId = 1;
  const events = new MinHeap<Ev>();
  const held: Req[] = [];
  let heldHead = 0;
  let inflight = 0; // held + running: what the collector counts
  let running = 0;
  let desired = 0;
  let state: ScaleState = initialScaleState();
  const startup = new StartupTracker({ defaultMs: startupMs });
  const serviceTime = new ServiceTimeTracker();
  const idleGaps = s.keepWarm === 'adaptive' ? new IdleGapHistogram({ minGapMs: s.stableWindowMs }) : null;
  let lastActiveAt: number | null = null;

  // collector: per-second area and arrivals, kept for the stable window only (ring buffer)
  const ringSize = stableSeconds + 2;
  const ringSecond = new Array<number>(ringSize).fill(-1);
  const ringArea = new Array<number>(ringSize).fill(0);
  const ringReqs = new Array<number>(ringSize).fill(0);
  let integratedTo = 0;

  // report accumulators
  const waits: number[] = [];
  const heldWaits: number[] = [];
  let rejected = 0;
  let coldStarts = 0;
  let scaleFromZero = 0;
  let replicaMs = 0;
  let peakReplicas = 0;
  let scaleEvents = 0;
  let panicMs = 0;
  let limitedMs = 0;
  const reasons: Record<string, number> = {};
  const rawTimeline: TimelinePoint[] = [];

  const alive = () => replicas.length;
  const readyCount = () => replicas.reduce((n, r) => n + (r.readyAt !== null && !r.draining ? 1 : 0), 0);
  const startingCount = () => replicas.reduce((n, r) => n + (r.readyAt === null ? 1 : 0), 0);

  function bucketAt(sec: number): number {
    const i = sec % ringSize;
    if (ringSecond[i] !== sec) {
      ringSecond[i] = sec;
      ringArea[i] = 0;
      ringReqs[i] = 0;
    }
    return i;
  }

  /** Integrates in-flight and replica counts up to `t`. */
  function advanceTo(t: number): void {
    if (t <= integratedTo) return;
    replicaMs += alive() * (t - integratedTo);
    let from = integratedTo;
    while (from < t) {
      const sec = Math.floor(from / 1000);
      const end = Math.min(t, (sec + 1) * 1000);
      if (inflight > 0) ringArea[bucketAt(sec)]! += (inflight * (end - from)) / 1000;
      from = end;
    }
    integratedTo = t;
  }

  function buckets(now: number): MetricBucket[] {
    const out: MetricBucket[] = [];
    const { fromSecond, toSecond } = observedSeconds(s, now);
    for (let sec = fromSecond; sec < toSecond; sec++) {
      if (sec < 0) continue;
      const i = sec % ringSize;
      if (ringSecond[i] === sec && (ringArea[i]! > 0 || ringReqs[i]! > 0)) out.push({ second: sec, concurrency: ringArea[i]!, requests: ringReqs[i]! });
    }
    return out;
  }

  function activity(at: number): void {
    if (lastActiveAt !== null && at <= lastActiveAt) return;
    idleGaps?.activity(at);
    lastActiveAt = at;
  }

  function startOn(r: Replica, req: Req, now: number): void {
    r.inflight++;
    running++;
    const wait = now - req.arrival;
    waits.push(wait);
    if (req.wasHeld) heldWaits.push(wait);
    events.push({ at: now + req.duration, kind: 'done', replica: r, req });
  }

  function pickReplica(): Replica | null {
    let best: Replica | null = null;
    for (const r of replicas) {
      if (r.readyAt === null || r.draining || r.inflight >= capacity) continue;
      if (!best || r.inflight < best.inflight) best = r;
    }
    return best;
  }

  function dispatchHeld(now: number): void {
    while (heldHead < held.length) {
      const req = held[heldHead]!;
      if (now - req.arrival > holdTimeoutMs) {
        heldHead++;
        rejected++;
        inflight--;
        continue;
      }
      const r = pickReplica();
      if (!r) break;
      heldHead++;
      startOn(r, req, now);
    }
    if (heldHead > 4096 && heldHead * 2 > held.length) {
      held.splice(0, heldHead);
      heldHead = 0;
    }
  }

  function gpuFit(): number {
    return inventory ? replicasThatFit(inventory, KEY, gpus) : Infinity;
  }

  function scaleTo(n: number, now: number): void {
    if (n === desired) return;
    scaleEvents++;
    if (desired === 0 && n > 0) scaleFromZero++;
    desired = n;
    // Draining replicas are on their way out: they do not count toward the new scale (as in the local backend).
    for (let live = replicas.filter((r) => !r.draining).length; live < n; live++) {
      const r: Replica = { id: nextReplicaId++, askedAt: now, readyAt: null, inflight: 0, draining: false, gone: false };
      if (inventory && !inventory.allocate(KEY, `${KEY}#${r.id}`, gpus)) break; // cannot start: no device
      replicas.push(r);
      events.push({ at: now + startupMs, kind: 'ready', replica: r });
    }
    // Scale down: starting replicas first (newest), then idle ready ones, then drain the least busy.
    let excess = replicas.filter((r) => !r.draining).length - n;
    for (let i = replicas.length - 1; i >= 0 && excess > 0; i--) {
      if (replicas[i]!.readyAt === null) {
        removeReplica(replicas[i]!);
        excess--;
      }
    }
    const serving = replicas.filter((r) => !r.draining).sort((a, b) => a.inflight - b.inflight);
    for (const r of serving) {
      if (excess <= 0) break;
      excess--;
      if (r.inflight === 0) removeReplica(r);
      else r.draining = true;
    }
    peakReplicas = Math.max(peakReplicas, replicas.length);
  }

  function removeReplica(r: Replica): void {
    r.gone = true;
    const i = replicas.indexOf(r);
    if (i >= 0) replicas.splice(i, 1);
    inventory?.release(`${KEY}#${r.id}`);
  }

  /** One decision: a poke wakes the revision at zero (only then does the activator poke); a tick observes. */
  function decideNow(now: number, poke: boolean): void {
    const ready = readyCount();
    const waiting = held.length - heldHead;
    let step: ScaleStepInput;
    if (poke) {
      step = { kind: 'wake', now };
    } else {
      const observation = observe(buckets(now), s, { now, firstSecond: 0, readyReplicas: ready, waiting }, serviceTime);
      if (inflight > 0) activity(now);
      const revision = { now, readyReplicas: ready, startingReplicas: startingCount(), currentDesired: desired, observedMs: now, lastActiveAt, waiting };
      step = { kind: 'observed', revision, observation };
    }
    const r = scaleStep(step, { settings: s, resource: null }, state, {
      revisionKey: KEY,
      gpus,
      inventory,
      startupMs: startup.estimateMs(),
      keepWarm: idleGaps?.window() ?? null,
    });
    state = r.state;
    reasons[r.decision.reason] = (reasons[r.decision.reason] ?? 0) + 1;
    if (!poke) {
      if (r.decision.panic) panicMs += tickMs;
      if (r.capacityLimited) limitedMs += tickMs;
    }
    scaleTo(r.decision.desired, now);
  }

  // --- initial scale, as register() does
  const initial = Math.min(s.maxScale, Math.max(s.minScale, s.initialScale), gpuFit());
  if (initial > 0) {
    scaleTo(initial, 0);
    scaleEvents--; // the initial scale is not a scaling decision
    scaleFromZero--;
  }
  lastActiveAt = initial > 0 ? 0 : null;

  const lastArrival = trace.length > 0 ? trace[trace.length - 1]!.arrivalMs : 0;
  const drainMs = opts.drainMs ?? s.stableWindowMs * 2 + Math.max(s.scaleToZeroGraceMs, s.scaleToZeroRetentionMs) + startupMs;
  const endAt = lastArrival + drainMs;
  let nextTick = tickMs + tickPhaseMs;
  let ti = 0;

  while (true) {
    const ev = events.peek();
    const arrivalAt = ti < trace.length ? trace[ti]!.arrivalMs : Infinity;
    const evAt = ev ? ev.at : Infinity;
    const next = Math.min(evAt, arrivalAt, nextTick);
    if (next > endAt && ti >= trace.length && running === 0 && inflight === 0) break;
    advanceTo(next);
    if (evAt === next) {
      const e = events.pop()!;
      if (e.kind === 'ready') {
        if (e.replica.gone) continue;
        e.replica.readyAt = e.at;
        startup.observe(e.at - e.replica.askedAt);
        dispatchHeld(e.at);
      } else {
        const r = e.replica;
        r.inflight--;
        running--;
        inflight--;
        if (inflight === 0) activity(e.at);
        if (r.draining && r.inflight === 0) removeReplica(r);
        dispatchHeld(e.at);
      }
      continue;
    }
    if (arrivalAt === next) {
      const t = trace[ti++]!;
      const now = t.arrivalMs;
      ringReqs[bucketAt(Math.floor(now / 1000))]! += 1;
      inflight++;
      activity(now);
      const req: Req = { arrival: now, duration: t.durationMs, cold: false, wasHeld: false };
      const r = heldHead < held.length ? null : pickReplica();
      if (r) {
        startOn(r, req, now);
      } else if (held.length - heldHead >= maxHeld) {
        rejected++;
        inflight--;
      } else {
        req.wasHeld = true;
        if (readyCount() === 0) {
          req.cold = true;
          coldStarts++;
        }
        held.push(req);
        if (desired === 0) decideNow(now, true);
      }
      continue;
    }
    // tick
    const now = nextTick;
    nextTick += tickMs;
    dispatchHeld(now);
    decideNow(now, false);
    const demand = inflight;
    rawTimeline.push({
      t: now,
      demand,
      demandReplicas: demand / s.target,
      desired,
      ready: readyCount(),
      held: held.length - heldHead,
    });
    if (now > endAt + 10 * tickMs && ti >= trace.length && inflight === 0) break;
  }

  const served = waits.length;
  const report: SimReport = {
    label: opts.label ?? '',
    settings: {
      metric: s.metric,
      target: s.target,
      containerConcurrency: rev.containerConcurrency,
      stableWindowSeconds: s.stableWindowMs / 1000,
      scaleToZeroGraceSeconds: s.scaleToZeroGraceMs / 1000,
      scaleToZeroRetentionSeconds: s.scaleToZeroRetentionMs / 1000,
      keepWarm: s.keepWarm,
      windowAlgorithm: s.windowAlgorithm,
      startupAware: s.startupAware,
      startupSeconds: startupMs / 1000,
      gpusPerReplica: s.gpusPerReplica,
      gpuCount: inventory ? (opts.gpuCount ?? null) : null,
      minScale: s.minScale,
      maxScale: s.maxScale,
    },
    durationSeconds: integratedTo / 1000,
    requests: trace.length,
    served,
    rejected,
    coldStarts,
    scaleFromZero,
    waitMs: percentiles(waits),
    heldWaitMs: percentiles(heldWaits),
    held: heldWaits.length,
    replicaSeconds: round(replicaMs / 1000),
    gpuSeconds: round((replicaMs / 1000) * s.gpusPerReplica),
    peakReplicas,
    scaleEvents,
    panicSeconds: panicMs / 1000,
    gpuCapacityLimitedSeconds: limitedMs / 1000,
    reasons,
    timeline: downsample(rawTimeline, opts.timelinePoints ?? 1200),
  };
  return report;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

export function percentiles(values: number[]): Percentiles {
  if (values.length === 0) return { p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };
  const v = Float64Array.from(values).sort();
  const at = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
  let sum = 0;
  for (const x of v) sum += x;
  return { p50: round(at(50)), p95: round(at(95)), p99: round(at(99)), max: round(v[v.length - 1]!), mean: round(sum / v.length) };
}

/** Keeps at most `max` points, each the maximum of its span (peaks stay visible). */
function downsample(points: TimelinePoint[], max: number): TimelinePoint[] {
  if (points.length <= max) return points;
  const per = Math.ceil(points.length / max);
  const out: TimelinePoint[] = [];
  for (let i = 0; i < points.length; i += per) {
    const span = points.slice(i, i + per);
    out.push({
      t: span[0]!.t,
      demand: Math.max(...span.map((p) => p.demand)),
      demandReplicas: Math.max(...span.map((p) => p.demandReplicas)),
      desired: Math.max(...span.map((p) => p.desired)),
      ready: Math.max(...span.map((p) => p.ready)),
      held: Math.max(...span.map((p) => p.held)),
    });
  }
  return out;
}
