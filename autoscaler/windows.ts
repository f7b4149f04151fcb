import type { MetricBucket } from '../core/store.js';

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
 */
export function windowAverages(
  buckets: readonly MetricBucket[],
  metric: 'concurrency' | 'rps',
  nowSecond: number,
  stableSeconds: number,
  panicSeconds: number,
  firstSecond: number,
): WindowAverages {
  const stableFrom = nowSecond - stableSeconds;
  const panicFrom = nowSecond - panicSeconds;
  let stableSum = 0;
  let panicSum = 0;
  let lastActive: number | null = null;
  for (const b of buckets) {
    if (b.second < stableFrom || b.second >= nowSecond) continue;
    const v = metric === 'rps' ? b.requests : b.concurrency;
    stableSum += v;
    if (b.second >= panicFrom) panicSum += v;
    if (v > 0 || b.requests > 0) lastActive = lastActive === null ? b.second : Math.max(lastActive, b.second);
  }
  const stableSpan = Math.max(1, Math.min(stableSeconds, nowSecond - Math.max(stableFrom, firstSecond)));
  const panicSpan = Math.max(1, Math.min(panicSeconds, nowSecond - Math.max(panicFrom, firstSecond)));
  return { stable: stableSum / stableSpan, panic: panicSum / panicSpan, lastActiveSecond: lastActive };
}
