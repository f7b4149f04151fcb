import type { MetricBucket } from '../core/store.js';
import type { ArrivalView } from './policies/gpu.js';
import type { ServiceTimeTracker } from './policies/startup.js';
import type { DeciderSettings } from './settings.js';
import { completionRate, windowAverages } from './windows.js';

/**
 * The observation step, shared by the scaling loop and the simulator: a revision's 1-second buckets → the windowed
 * demand the decider reads, plus (for start-up aware revisions) arrival rates and the learned service time.
 */

/** What one decision sees of a revision's demand. */
export interface Observation {
  /** Average of the revision's metric (concurrency or rps) over the stable window. */
  stable: number;
  /** The same over the panic window. */
  panic: number;
  /** Newest second with traffic in the stable window, or null. */
  lastActiveSecond: number | null;
  /** Arrival rates and service time, for the start-up aware (queue-aware) view; null for plain KPA. */
  arrivals: ArrivalView | null;
}

/** What the observer needs to know about the revision now, besides its buckets. */
export interface ObservedRevision {
  now: number;
  /** The first second this observer has data for (its registration); younger windows are averaged over less. */
  firstSecond: number;
  readyReplicas: number;
  /** Requests held now for want of a ready replica. */
  waiting: number;
}

/** The stable and panic windows in whole seconds (the panic window at least 1 s). */
export function windowSeconds(s: DeciderSettings): { stableSeconds: number; panicSeconds: number } {
  return { stableSeconds: Math.round(s.stableWindowMs / 1000), panicSeconds: Math.max(1, Math.round(s.panicWindowMs / 1000)) };
}

/**
 * The seconds of buckets `observe` reads at `now`: [fromSecond, toSecond), the stable window before this second plus
 * the one before it, for when the newest second is not reported yet (`reportedUpTo`).
 */
export function observedSeconds(s: DeciderSettings, now: number): { fromSecond: number; toSecond: number } {
  const toSecond = Math.floor(now / 1000);
  return { fromSecond: toSecond - windowSeconds(s).stableSeconds - 1, toSecond };
}

/**
 * The end (exclusive) of the seconds the windows may read. Collectors push each completed second once a second, at
 * their own phase, so at a tick the newest second may not be in the store yet. A series that had a bucket two seconds
 * ago and none for the newest second is taken as not reported yet (the windows end one second earlier) rather than as a
 * second of no traffic: counted as zero, a steady 11 in flight read as 9.2 in a 6 s panic window on every tick, and a
 * flush phase after the tick's made replicas drop and come back. At a real end of traffic this delays the zero by one
 * second, once.
 */
export function reportedUpTo(buckets: readonly MetricBucket[], nowSecond: number): number {
  let newest = false;
  let before = false;
  for (const b of buckets) {
    if (b.second === nowSecond - 1) newest = true;
    else if (b.second === nowSecond - 2) before = true;
  }
  return !newest && before ? nowSecond - 1 : nowSecond;
}

/**
 * Windows the buckets. For a start-up aware revision it also teaches `serviceTime` from this window (requests
 * running on replicas ÷ completions per second, Little's law) — the step's one side effect — and reads its
 * estimate into the arrival view.
 */
export function observe(
  buckets: readonly MetricBucket[],
  s: DeciderSettings,
  rev: ObservedRevision,
  serviceTime: ServiceTimeTracker,
): Observation {
  const nowSecond = reportedUpTo(buckets, Math.floor(rev.now / 1000));
  const { stableSeconds, panicSeconds } = windowSeconds(s);
  const avg = windowAverages(buckets, s.metric, nowSecond, stableSeconds, panicSeconds, rev.firstSecond, s.windowAlgorithm);
  let arrivals: ArrivalView | null = null;
  if (s.startupAware) {
    const rps = windowAverages(buckets, 'rps', nowSecond, stableSeconds, panicSeconds, rev.firstSecond, s.windowAlgorithm);
    const conc = s.metric === 'concurrency' ? avg : windowAverages(buckets, 'concurrency', nowSecond, stableSeconds, panicSeconds, rev.firstSecond);
    const done = completionRate(buckets, nowSecond, panicSeconds);
    if (rev.readyReplicas > 0 && done !== null) serviceTime.observe(Math.min(conc.panic - rev.waiting, rev.readyReplicas * s.totalTarget), done);
    arrivals = { stableRps: rps.stable, panicRps: rps.panic, serviceMs: serviceTime.estimateMs() };
  }
  return { stable: avg.stable, panic: avg.panic, lastActiveSecond: avg.lastActiveSecond, arrivals };
}
