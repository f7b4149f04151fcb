/**
 * A worker pool's admission: at most `max` requests run at once; the rest wait in a bounded FIFO.
 * `max` 0 means unbounded. A full queue (or reject mode) refuses at once.
 */
export type Admission = { ok: true; release: () => void } | { ok: false; reason: string };

export class WorkerSlots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly max: number,
    private readonly maxQueue: number,
    private readonly rejectWhenFull: boolean,
  ) {}

  get inFlight(): number {
    return this.running;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves when a slot is free (FIFO), or at once with ok=false when the request must be refused. */
  acquire(): Promise<Admission> {
    if (this.max <= 0 || this.running < this.max) {
      this.running++;
      return Promise.resolve({ ok: true, release: this.releaser() });
    }
    if (this.rejectWhenFull) {
      return Promise.resolve({ ok: false, reason: `over capacity: ${this.running} of ${this.max} workers busy` });
    }
    if (this.waiting.length >= this.maxQueue) {
      return Promise.resolve({ ok: false, reason: `queue full: ${this.waiting.length} requests waiting` });
    }
    return new Promise((resolve) => {
      this.waiting.push(() => {
        this.running++;
        resolve({ ok: true, release: this.releaser() });
      });
    });
  }

  /** A release function that frees the slot once and hands it to the oldest waiter. */
  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      const next = this.waiting.shift();
      if (next) next();
    };
  }
}
