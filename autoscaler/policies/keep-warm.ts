import type { Decision, DeciderInput } from '../decider.js';
import { AUTOSCALING_DEFAULTS } from '../settings.js';

export interface IdleGapOptions {
  binMs?: number;
  rangeMs?: number;
  minSamples?: number;
  keepAlivePercentile?: number;
  prewarmPercentile?: number;
  /** Gaps shorter than this are not recorded (the stable window keeps the replica through them anyway). */
  minGapMs?: number;
}

export interface KeepWarmWindow {
  /** Go to zero after this much idle time, then come back (0: stay warm from the start). */
  prewarmMs: number;
  /** Stay warm until this much idle time has passed. */
  keepAliveMs: number;
}

/**
 * A revision's idle-gap histogram (the hybrid histogram policy of "Serverless in the Wild", Shahrad et al.,
 * ATC'20): fixed-width bins over a bounded range plus an out-of-range count. Memory is bounded by range/bin.
 * Only gaps at least a stable window long are recorded: shorter ones never reach the scale-to-zero decision.
 */
export class IdleGapHistogram {
  private readonly bins: number[];
  private readonly binMs: number;
  private readonly minSamples: number;
  private readonly keepAlivePct: number;
  private readonly prewarmPct: number;
  private readonly minGapMs: number;
  private inRange = 0;
  private outOfRange = 0;
  private lastActivity: number | null = null;

  constructor(opts: IdleGapOptions = {}) {
    const d = AUTOSCALING_DEFAULTS;
    this.binMs = opts.binMs ?? d.keepWarmBinSeconds * 1000;
    const rangeMs = opts.rangeMs ?? d.keepWarmRangeSeconds * 1000;
    this.bins = new Array<number>(Math.max(1, Math.ceil(rangeMs / this.binMs))).fill(0);
    this.minSamples = opts.minSamples ?? d.keepWarmMinSamples;
    this.keepAlivePct = opts.keepAlivePercentile ?? d.keepWarmKeepAlivePercentile;
    this.prewarmPct = opts.prewarmPercentile ?? d.keepWarmPrewarmPercentile;
    this.minGapMs = opts.minGapMs ?? d.stableWindowSeconds * 1000;
  }

  /** The revision was active at `at` (ms, non-decreasing). Records the gap since the previous activity. */
  activity(at: number): void {
    if (this.lastActivity !== null && at - this.lastActivity >= this.minGapMs) this.record(at - this.lastActivity);
    if (this.lastActivity === null || at > this.lastActivity) this.lastActivity = at;
  }

  record(gapMs: number): void {
    const i = Math.floor(gapMs / this.binMs);
    if (i >= this.bins.length) this.outOfRange++;
    else {
      this.bins[i]!++;
      this.inRange++;
    }
  }

  samples(): number {
    return this.inRange + this.outOfRange;
  }

  /**
   * The window to keep a replica warm in, or null when the histogram is not representative yet (too few
   * gaps, or most gaps beyond its range): the fixed grace/retention then applies.
   */
  window(): KeepWarmWindow | null {
    const total = this.samples();
    if (total < this.minSamples || this.outOfRange * 2 > total) return null;
    const head = this.percentile(this.prewarmPct, false);
    const tail = this.percentile(this.keepAlivePct, true);
    return { prewarmMs: Math.floor(head * 0.9), keepAliveMs: Math.ceil(tail * 1.1) };
  }

  /** Lower (or upper) edge of the bin holding the p-th percentile of in-range gaps. */
  private percentile(p: number, upper: boolean): number {
    const want = Math.max(1, Math.ceil((p / 100) * this.inRange));
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i]!;
      if (seen >= want) return (upper ? i + 1 : i) * this.binMs;
    }
    return this.bins.length * this.binMs;
  }
}

/**
 * After the decider, for `keepWarm: adaptive`: once the revision has been idle for a stable window (no demand in
 * it and nobody waiting), the keep-warm window replaces the grace/retention timer. One replica stays (or comes
 * back, start-up time before the pre-warm point) until the idle time passes the keep-alive; before the pre-warm
 * point the revision may sit at zero. A decision driven by demand is left alone, and so is the first stable
 * window after a request (the gaps learned are at least that long; a request may not be in any window yet).
 */
export function adaptiveKeepWarm(
  decision: Decision,
  input: DeciderInput,
  window: KeepWarmWindow | null,
  opts: { minScale: number; startupMs: number; stableWindowMs: number },
): Decision {
  if (window === null || input.lastActiveAt === null) return decision;
  if (input.stable > 0 || input.waiting > 0 || decision.desired > 1 || opts.minScale > 0) return decision;
  const idleFor = input.now - input.lastActiveAt;
  if (idleFor < opts.stableWindowMs) return decision;
  const warmFrom = Math.max(0, window.prewarmMs - opts.startupMs);
  const warm = idleFor >= warmFrom && idleFor < window.keepAliveMs;
  return { ...decision, desired: warm ? 1 : 0, reason: warm ? 'keep-warm' : idleFor < warmFrom ? 'keep-warm-unload' : 'keep-warm-expired' };
}
