/**
 * Pure figures of the canary scenario from the two upstreams' request counters, sampled over time: the canary's
 * share over an interval and per second, and how long after a traffic change the old target kept receiving.
 * Times are milliseconds on one clock (the harness's `performance.now()`).
 */

/** Both upstreams' request counters as read at time `t`. */
export interface CounterSample {
  t: number;
  primary: number;
  canary: number;
}

export interface SecondShare {
  /** seconds from the origin at the end of this bucket (1 = the first second) */
  second: number;
  /** requests the two upstreams received in this second */
  requests: number;
  /** the canary's share of them, 0..1; NaN for a second with none */
  share: number;
}

function byTime(samples: readonly CounterSample[]): CounterSample[] {
  return [...samples].sort((a, b) => a.t - b.t);
}

/**
 * Both counters at time `t`, interpolated linearly between the samples around it (a counter grows between
 * samples, so this is the best estimate a sampled series gives); the last sample's values after it; undefined
 * before the first sample. Expects samples sorted by time.
 */
export function countersAt(sorted: readonly CounterSample[], t: number): { primary: number; canary: number } | undefined {
  const first = sorted[0];
  if (first === undefined || t < first.t) return undefined;
  for (let i = 1; i < sorted.length; i++) {
    const b = sorted[i] as CounterSample;
    if (b.t < t) continue;
    const a = sorted[i - 1] as CounterSample;
    const f = b.t === a.t ? 1 : (t - a.t) / (b.t - a.t);
    return { primary: a.primary + (b.primary - a.primary) * f, canary: a.canary + (b.canary - a.canary) * f };
  }
  const last = sorted[sorted.length - 1] as CounterSample;
  return { primary: last.primary, canary: last.canary };
}

/**
 * The canary's share of the requests counted between `from` and `to` (counters interpolated at both ends);
 * NaN when no request was counted or `from` precedes the first sample.
 */
export function shareBetween(samples: readonly CounterSample[], from: number, to: number): { share: number; requests: number } {
  const sorted = byTime(samples);
  const a = countersAt(sorted, from);
  const b = countersAt(sorted, to);
  if (!a || !b) return { share: Number.NaN, requests: 0 };
  const canary = b.canary - a.canary;
  const requests = canary + (b.primary - a.primary);
  return { share: requests > 0 ? canary / requests : Number.NaN, requests };
}

/** Per-second canary share for `seconds` whole seconds after `origin` (each bucket bounded by its sampled counters). */
export function sharePerSecond(samples: readonly CounterSample[], origin: number, seconds: number): SecondShare[] {
  const out: SecondShare[] = [];
  for (let s = 1; s <= seconds; s++) {
    const { share, requests } = shareBetween(samples, origin + (s - 1) * 1000, origin + s * 1000);
    out.push({ second: s, requests, share });
  }
  return out;
}

/**
 * How long after `from` (an admin call returning) the upstream that should no longer get traffic (`stale`) was
 * still counting requests, up to `until`: the time of the first sample after its counter's last increase, minus
 * `from` — an upper bound, exact to the sampling interval. 0 when its counter never moved after the first
 * sample at or after `from`; null when it was still moving at the last sample before `until` (the share never
 * reached its target within the phase).
 */
export function staleTrafficEndsAfter(
  samples: readonly CounterSample[],
  from: number,
  until: number,
  stale: 'primary' | 'canary',
): number | null {
  const window = byTime(samples).filter((s) => s.t >= from && s.t <= until);
  if (window.length < 2) return null;
  let lastIncrease = -1;
  for (let i = 1; i < window.length; i++) {
    if ((window[i] as CounterSample)[stale] > (window[i - 1] as CounterSample)[stale]) lastIncrease = i;
  }
  if (lastIncrease === -1) return 0;
  if (lastIncrease === window.length - 1) return null;
  return (window[lastIncrease] as CounterSample).t - from;
}

/** Largest and mean |share − target| over seconds that saw at least `minRequests` requests, in percentage points. */
export function splitErrorPerSecond(perSecond: readonly SecondShare[], target: number, minRequests = 1): { max: number; mean: number } {
  const errors = perSecond.filter((s) => s.requests >= minRequests && Number.isFinite(s.share)).map((s) => Math.abs(s.share - target) * 100);
  if (errors.length === 0) return { max: Number.NaN, mean: Number.NaN };
  return { max: Math.max(...errors), mean: errors.reduce((a, b) => a + b, 0) / errors.length };
}
