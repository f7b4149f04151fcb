/**
 * Crash-loop backoff of one revision's replicas: the delay before the next start doubles with each failure
 * in a row (initial → max) and the streak resets once a replica has stayed ready for `resetAfterMs`.
 */
export interface RestartBackoffOptions {
  initialMs: number;
  maxMs: number;
  resetAfterMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoffOptions = { initialMs: 200, maxMs: 10_000, resetAfterMs: 30_000 };

export class RestartBackoff {
  private streak = 0;
  private notBefore = 0;

  constructor(private readonly opts: RestartBackoffOptions) {}

  /** Records a failed replica; `readyForMs` is how long it had been ready (0 if never). Returns the delay. */
  failed(now: number, readyForMs: number): number {
    if (readyForMs >= this.opts.resetAfterMs) this.streak = 0;
    this.streak++;
    const delay = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(30, this.streak - 1));
    this.notBefore = now + delay;
    return delay;
  }

  /** A replica stayed ready long enough: forget earlier failures. */
  reset(): void {
    this.streak = 0;
    this.notBefore = 0;
  }

  get failures(): number {
    return this.streak;
  }

  /** Milliseconds until a replica may start (0 = now). */
  waitMs(now: number): number {
    return Math.max(0, this.notBefore - now);
  }
}
