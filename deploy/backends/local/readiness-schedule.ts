/**
 * When the local backend probes a starting replica's readiness path (pure: times in, times out; the caller owns
 * the timer and the one probe in flight).
 *
 * - The first probe runs at spawn.
 * - After a failed probe the next one comes `intervalMs` later, or sooner while requests wait for the
 *   revision: then the period starts at `fastIntervalMs` and grows with the time the replica has been starting
 *   (1 % of it, up to `intervalMs`), so a slow runtime is not probed hundreds of times a second for minutes.
 * - A line of output from the replica while it starts asks for a probe at once (most runtimes print a line when
 *   they become ready), but never sooner than `fastIntervalMs` after the previous probe began. A line that comes
 *   while a probe is in flight asks for one more probe right after it. Output never marks a replica ready by
 *   itself: only a passing probe does.
 */
export interface ReadinessTiming {
  /** Period while no request waits for the revision. */
  intervalMs: number;
  /** Shortest period: while requests wait, and the least gap before a probe that output asks for. */
  fastIntervalMs: number;
}

/** While requests wait, the period is this fraction of the start-up so far (clamped to fast…interval). */
export const WAITING_PERIOD_FRACTION = 0.01;

export class ReadinessSchedule {
  private inFlight = false;
  private rerun = false;
  private lastStartAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly timing: ReadinessTiming,
    /** When the replica was spawned. */
    private readonly spawnedAt: number,
  ) {}

  /** A probe begins at `now`. */
  begin(now: number): void {
    this.inFlight = true;
    this.rerun = false;
    this.lastStartAt = now;
  }

  /** The probe in flight failed at `now`; returns when the next one is due. */
  failed(now: number, waiting: boolean): number {
    this.inFlight = false;
    if (this.rerun) {
      this.rerun = false;
      return Math.max(now, this.lastStartAt + this.timing.fastIntervalMs);
    }
    return now + this.period(now, waiting);
  }

  /** The period after a failed probe at `now`. */
  period(now: number, waiting: boolean): number {
    const { intervalMs, fastIntervalMs } = this.timing;
    if (!waiting) return intervalMs;
    return Math.min(intervalMs, Math.max(fastIntervalMs, Math.round((now - this.spawnedAt) * WAITING_PERIOD_FRACTION)));
  }

  /**
   * The replica wrote a line at `now`; `due` is when the next probe is planned (null: none). Returns the earlier
   * time to probe at, or null to keep the plan (a sooner probe is planned, or one is in flight and will be
   * followed by another).
   */
  output(now: number, due: number | null): number | null {
    if (this.inFlight) {
      this.rerun = true;
      return null;
    }
    const at = Math.max(now, this.lastStartAt + this.timing.fastIntervalMs);
    return due !== null && due <= at ? null : at;
  }
}
