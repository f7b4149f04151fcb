import type { MetricBucket } from '../core/store.js';
import { AUTOSCALING_DEFAULTS, type WindowAlgorithm } from './settings.js';

export interface WindowAverages {
  /** Average of the metric over the stable window. */
  stable: number;
  /** Average of the metric over the panic window. */
  panic: number;
  /** Newest second with traffic, or null. */
  lastActiveSecond: number | null;
}

/**
 * Averages 1-second buckets over the stable and panic windows ending at `nowSecond` (exclusive).
 * Seconds without a bucket count as zero. A series younger than a window is averaged over the part it
 * covers (linear averaging over a partial window), so a fresh revision is not under-counted.
 *
 * `weighted-exponential` weighs each second by (1 − α)^age, α chosen so the oldest second of the window weighs
 * `weightedExponentialOldestWeight` (5 %) of the newest; the average divides by the sum of weights of the seconds
 * covered, so a young series is not under-counted either. It follows a rising load sooner than `linear` while
 * still remembering the whole window. The panic window is always linear (it is short already).
 */
export function windowAverages(
  buckets: readonly MetricBucket[],
  metric: 'concurrency' | 'rps',
  nowSecond: number,
  stableSeconds: number,
  panicSeconds: number,
  firstSecond: number,
  algorithm: WindowAlgorithm = 'linear',
): WindowAverages {
  const stableFrom = nowSecond - stableSeconds;
  const panicFrom = nowSecond - panicSeconds;
  // A bucket older than the registration (data left in the store by an earlier autoscaler) extends the series.
  let first = firstSecond;
  for (const b of buckets) if (b.second >= stableFrom && b.second < first) first = b.second;
  const coveredFrom = Math.max(stableFrom, first);
  const keep = algorithm === 'weighted-exponential' ? decayFactor(stableSeconds) : 1;
  let stableSum = 0;
  let panicSum = 0;
  let lastActive: number | null = null;
  for (const b of buckets) {
    if (b.second < stableFrom || b.second >= nowSecond) continue;
    const v = metric === 'rps' ? b.requests : b.concurrency;
    const age = nowSecond - 1 - b.second;
    stableSum += keep === 1 ? v : v * Math.pow(keep, age);
    if (b.second >= panicFrom) panicSum += v;
    if (v > 0 || b.requests > 0) lastActive = lastActive === null ? b.second : Math.max(lastActive, b.second);
  }
  const stableSpan = Math.max(1, Math.min(stableSeconds, nowSecond - coveredFrom));
  const panicSpan = Math.max(1, Math.min(panicSeconds, nowSecond - Math.max(panicFrom, first)));
  const stableWeight = keep === 1 ? stableSpan : (1 - Math.pow(keep, stableSpan)) / (1 - keep);
  return { stable: stableSum / stableWeight, panic: panicSum / panicSpan, lastActiveSecond: lastActive };
}

/** (1 − α) for a window of `seconds`, so that the oldest second weighs the configured fraction of the newest. */
export function decayFactor(seconds: number): number {
  if (seconds <= 1) return 1;
  return Math.pow(AUTOSCALING_DEFAULTS.weightedExponentialOldestWeight, 1 / (seconds - 1));
}

/**
 * Requests completed per second over the last `seconds` before `nowSecond`, estimated from the buckets:
 * arrivals minus the growth of in-flight (newest second's concurrency minus the oldest's). Null without arrivals.
 */
export function completionRate(buckets: readonly MetricBucket[], nowSecond: number, seconds: number): number | null {
  const from = nowSecond - seconds;
  let arrivals = 0;
  let first = 0;
  let last = 0;
  for (const b of buckets) {
    if (b.second < from || b.second >= nowSecond) continue;
    arrivals += b.requests;
    if (b.second === from) first = b.concurrency;
    if (b.second === nowSecond - 1) last = b.concurrency;
  }
  if (arrivals === 0) return null;
  return Math.max(0, (arrivals - (last - first)) / seconds);
}
