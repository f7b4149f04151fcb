/** The median of `values` (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The median of per-round figures and their range: how a comparison made within each round is reported. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** `median (min to max)`, each figure written by `f`; with `unit`, `median unit (min to max)`. */
export function formatSpread(s: Spread, f: (x: number) => string, unit = ''): string {
  return `${f(s.median)}${unit === '' ? '' : ` ${unit}`} (${f(s.min)} to ${f(s.max)})`;
}

/** `x` with `digits` decimals and its sign, `+` included (`+1.0`, `-0.4`). */
export function signedFixed(x: number, digits: number): string {
  return `${x >= 0 ? '+' : ''}${x.toFixed(digits)}`;
}

/** A ratio as a percentage with one decimal (`0.981` → `98.1 %`). */
export function percent(ratio: number): string {
  return `${(ratio * 100).toFixed(1)} %`;
}

/**
 * The median of per-round figures where null means "never reached" and counts as worse than any number:
 * null when at least half the rounds are null, else the median with the nulls ranked last.
 */
export function medianOrNull(values: ReadonlyArray<number | null>): number | null {
  const nulls = values.filter((v) => v === null).length;
  if (values.length === 0 || nulls * 2 >= values.length) return null;
  return median(values.map((v) => v ?? Number.POSITIVE_INFINITY));
}

/** Nearest-rank percentile (q in 0..1) of an already sorted array; NaN when empty. */
export function percentileOfSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** A fixed-capacity sample of latencies (ms); values past capacity are counted but not kept. */
export class LatencyRecorder {
  private readonly values: Float64Array;
  private size = 0;
  overflow = 0;

  constructor(capacity: number) {
    this.values = new Float64Array(capacity);
  }

  record(ms: number): void {
    if (this.size < this.values.length) this.values[this.size++] = ms;
    else this.overflow += 1;
  }

  get count(): number {
    return this.size;
  }

  sorted(): Float64Array {
    return this.values.slice(0, this.size).sort();
  }
}

export function formatNumber(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
