/**
 * Pure figures of the step-and-spike scenario from a time series of replica counts: when ready capacity first
 * covered a new demand, and how many replicas were kept per replica needed once things settled.
 * Times are milliseconds on one clock.
 */

export interface ReplicaSample {
  t: number;
  /** replicas that can take requests */
  ready: number;
}

/** Replicas that serve `rate` req/s when each serves `perReplicaRps` at full use (at least one). */
export function replicasNeeded(rate: number, perReplicaRps: number): number {
  if (!(perReplicaRps > 0)) throw new Error(`perReplicaRps must be positive, got ${perReplicaRps}`);
  return Math.max(1, Math.ceil(rate / perReplicaRps - 1e-9));
}

/**
 * Milliseconds from `changeAt` (demand rose) to the first sample in [changeAt, until] whose ready replicas reach
 * `needed`; 0 when the last sample before the change already had them; null when none did by `until`. Exact to
 * the sampling interval (a replica that became ready between two samples is seen at the later one).
 */
export function timeToCover(samples: readonly ReplicaSample[], changeAt: number, until: number, needed: number): number | null {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  const before = sorted.filter((s) => s.t < changeAt).at(-1);
  if (before !== undefined && before.ready >= needed) return 0;
  const first = sorted.find((s) => s.t >= changeAt && s.t <= until && s.ready >= needed);
  return first === undefined ? null : first.t - changeAt;
}

/**
 * Time-weighted mean of ready replicas over [from, to) divided by `needed` (1 = exactly what the demand needs at
 * full use; 1.43 = what a 70 % utilisation target aims for). Each sample holds until the next. NaN without samples.
 */
export function overProvisioning(samples: readonly ReplicaSample[], from: number, to: number, needed: number): number {
  const sorted = [...samples].sort((a, b) => a.t - b.t);
  let weighted = 0;
  let span = 0;
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i] as ReplicaSample;
    const next = sorted[i + 1]?.t ?? to;
    const a = Math.max(s.t, from);
    const b = Math.min(next, to);
    if (b <= a) continue;
    weighted += s.ready * (b - a);
    span += b - a;
  }
  return span > 0 ? weighted / span / needed : Number.NaN;
}
