import type { ArrivalOutcome } from './open-loop.js';
import { percentileOfSorted } from './stats.js';

/** Client-side counts of one second (by completion time). */
export interface SecondTally {
  /** seconds from the origin at the end of this bucket (1 = the first second) */
  second: number;
  ok: number;
  /** answered with a status outside 2xx (5xx included) */
  non2xx: number;
  status5xx: number;
  /** no answer: transport error, or refused by the generator's own bound */
  errors: number;
}

export interface StatusTotals {
  ok: number;
  non2xx: number;
  status5xx: number;
  errors: number;
  /** every non-2xx status seen, with its count */
  byStatus: Map<number, number>;
}

/** Recorded outcomes counted per whole second after `origin`, by completion time. Pure. */
export function tallyPerSecond(outcomes: readonly ArrivalOutcome[], origin: number, seconds: number): SecondTally[] {
  const out: SecondTally[] = Array.from({ length: seconds }, (_, i) => ({ second: i + 1, ok: 0, non2xx: 0, status5xx: 0, errors: 0 }));
  for (const o of outcomes) {
    if (!o.recorded) continue;
    const bucket = out[Math.floor((o.done - origin) / 1000)];
    if (!bucket) continue;
    if (o.status === 0) bucket.errors += 1;
    else if (o.status >= 200 && o.status < 300) bucket.ok += 1;
    else {
      bucket.non2xx += 1;
      if (o.status >= 500) bucket.status5xx += 1;
    }
  }
  return out;
}

/** Totals over every recorded outcome. Pure. */
export function statusTotals(outcomes: readonly ArrivalOutcome[]): StatusTotals {
  const t: StatusTotals = { ok: 0, non2xx: 0, status5xx: 0, errors: 0, byStatus: new Map() };
  for (const o of outcomes) {
    if (!o.recorded) continue;
    if (o.status === 0) t.errors += 1;
    else if (o.status >= 200 && o.status < 300) t.ok += 1;
    else {
      t.non2xx += 1;
      if (o.status >= 500) t.status5xx += 1;
      t.byStatus.set(o.status, (t.byStatus.get(o.status) ?? 0) + 1);
    }
  }
  return t;
}

/**
 * Latency percentiles (ms, counted from the intended send time) of the recorded arrivals intended in [from, to),
 * answered or not (a transport error counts at the time it surfaced). Pure.
 */
export function latencyBetween(outcomes: readonly ArrivalOutcome[], from: number, to: number): { p50: number; p99: number; max: number; count: number } {
  const values = outcomes.filter((o) => o.recorded && o.intended >= from && o.intended < to).map((o) => o.done - o.intended);
  const sorted = Float64Array.from(values).sort();
  return {
    p50: percentileOfSorted(sorted, 0.5),
    p99: percentileOfSorted(sorted, 0.99),
    max: percentileOfSorted(sorted, 1),
    count: sorted.length,
  };
}
