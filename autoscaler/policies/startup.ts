import { AUTOSCALING_DEFAULTS } from '../settings.js';

/**
 * A revision's time-to-ready, learned from its own cold starts: an exponentially weighted moving average of
 * (replica ready − scale-up asked). Before the first observation it answers the configured default.
 */
export class StartupTracker {
  private ewmaMs: number | null = null;
  private count = 0;
  private readonly alpha: number;
  private readonly defaultMs: number;

  constructor(opts: { alpha?: number; defaultMs?: number } = {}) {
    this.alpha = opts.alpha ?? AUTOSCALING_DEFAULTS.startupEwmaAlpha;
    this.defaultMs = opts.defaultMs ?? AUTOSCALING_DEFAULTS.startupDefaultSeconds * 1000;
  }

  observe(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.ewmaMs = this.ewmaMs === null ? ms : this.alpha * ms + (1 - this.alpha) * this.ewmaMs;
    this.count++;
  }

  /** Expected time from asking for a replica to it being ready. */
  estimateMs(): number {
    return this.ewmaMs ?? this.defaultMs;
  }

  observations(): number {
    return this.count;
  }
}

/**
 * Pairs scale-ups with replicas becoming ready, oldest first, to time cold starts. Bounded: at most `max`
 * outstanding starts are remembered (the oldest are dropped).
 */
export class PendingStarts {
  private readonly starts: number[] = [];
  constructor(private readonly max = 64) {}

  /** `n` replicas were asked for at `at`. */
  asked(at: number, n: number): void {
    for (let i = 0; i < n; i++) this.starts.push(at);
    while (this.starts.length > this.max) this.starts.shift();
  }

  /** Fewer replicas are wanted now: forget the newest outstanding starts beyond `outstanding`. */
  trim(outstanding: number): void {
    while (this.starts.length > Math.max(0, outstanding)) this.starts.pop();
  }

  /**
   * The newest `n` outstanding starts have not begun yet at `at` (their replicas wait for the backend's budget):
   * their time-to-ready counts from `at` at the earliest, not from when they were asked for.
   */
  notStartedBy(n: number, at: number): void {
    for (let i = Math.max(0, this.starts.length - n); i < this.starts.length; i++) this.starts[i] = Math.max(this.starts[i]!, at);
  }

  /** A replica became ready at `at`: returns its time-to-ready, or null when no start was outstanding. */
  ready(at: number): number | null {
    const t = this.starts.shift();
    return t === undefined ? null : at - t;
  }

  size(): number {
    return this.starts.length;
  }
}

/**
 * A revision's mean service time, learned by Little's law on the replicas (requests running on replicas =
 * completion rate × service time), so it is measured even while requests queue in front of saturated replicas.
 * Used to tell real demand from requests piling up in the activator while replicas load. EWMA; null until learned.
 */
export class ServiceTimeTracker {
  private ewmaMs: number | null = null;
  constructor(private readonly alpha = 0.2) {}

  /** Offers one window's requests running on replicas (not held) and completions per second. */
  observe(running: number, completionsPerSecond: number): void {
    if (!(completionsPerSecond > 0) || !(running > 0)) return;
    const ms = (running / completionsPerSecond) * 1000;
    this.ewmaMs = this.ewmaMs === null ? ms : this.alpha * ms + (1 - this.alpha) * this.ewmaMs;
  }

  estimateMs(): number | null {
    return this.ewmaMs;
  }
}
