/**
 * A mergeable latency sketch: a histogram over log-spaced bins, so sketches from several gateways add up bin by
 * bin (in Redis: one HINCRBY per bin) and a quantile of the sum is within LATENCY_SKETCH_RELATIVE_ERROR of the
 * true one. Bin 0 holds everything up to 0.1 ms; bin i > 0 holds (0.1·γ^(i-1), 0.1·γ^i] ms; the last bin holds
 * everything above its lower bound. Used for rollout outcomes shared across gateways (core/store.ts).
 */

const GAMMA = 1.05;
const LOG_GAMMA = Math.log(GAMMA);
const FLOOR_MS = 0.1;
/** Bins in a sketch: bin 399 starts at 0.1·1.05^398 ms, about 2.6e7 s, so no real latency reaches it. */
export const LATENCY_SKETCH_BINS = 400;
/** Largest relative error of a quantile read from a sketch, (γ-1)/(γ+1). */
export const LATENCY_SKETCH_RELATIVE_ERROR = (GAMMA - 1) / (GAMMA + 1);

/** The bin of a latency in ms (negative and NaN count as 0). */
export function latencyBin(ms: number): number {
  if (!(ms > FLOOR_MS)) return 0;
  const i = Math.ceil(Math.log(ms / FLOOR_MS) / LOG_GAMMA);
  return i >= LATENCY_SKETCH_BINS ? LATENCY_SKETCH_BINS - 1 : i;
}

/** The value a bin stands for: the point within relative error of every latency in it. */
export function binValue(bin: number): number {
  return (FLOOR_MS * GAMMA ** bin * 2) / (1 + GAMMA);
}

/**
 * The q-quantile (0 < q ≤ 1) of a sketch given as `[bin, count]` pairs in any order (a bin may repeat: counts
 * add); null when it counts nothing. The rank is ceil(q·n), as the exact p99 of the in-process recorder.
 */
export function sketchQuantile(bins: Iterable<readonly [number, number]>, q: number): number | null {
  const counts = new Map<number, number>();
  let n = 0;
  for (const [b, c] of bins) {
    if (c <= 0) continue;
    counts.set(b, (counts.get(b) ?? 0) + c);
    n += c;
  }
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(n * q));
  let seen = 0;
  for (const b of [...counts.keys()].sort((x, y) => x - y)) {
    seen += counts.get(b)!;
    if (seen >= rank) return binValue(b);
  }
  return null;
}
