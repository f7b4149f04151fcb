import type { Clock, TimerHandle } from '../../core/clock.js';

/** What a coordination.k8s.io Lease says, reduced to what election needs. */
export interface LeaseRecord {
  holder: string | null;
  leaseDurationSeconds: number;
  /** ISO times as the API stores them (MicroTime). */
  acquireTime: string | null;
  renewTime: string | null;
  transitions: number;
  /** Opaque version for optimistic concurrency. */
  resourceVersion: string;
}

export class LeaseConflict extends Error {}

/** Reads and writes one Lease. `update` must fail with LeaseConflict on a stale resourceVersion (HTTP 409). */
export interface LeaseClient {
  get(): Promise<LeaseRecord | null>;
  create(rec: Omit<LeaseRecord, 'resourceVersion'>): Promise<LeaseRecord>;
  update(rec: LeaseRecord): Promise<LeaseRecord>;
}

export interface LeaderElectorOptions {
  client: LeaseClient;
  identity: string;
  clock: Clock;
  leaseDurationMs?: number;
  /** A leader that cannot renew for this long steps down (must be < leaseDuration). */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  onError?: (err: unknown) => void;
}

/**
 * Leader election on a Lease, in the manner of client-go: a candidate takes the lease only when the record it
 * last observed has not changed for a whole lease duration by its own clock (so clock skew between nodes
 * does not matter), and every write carries the resourceVersion it read, so two candidates never both win.
 */
export class LeaderElector {
  private readonly o: Required<Omit<LeaderElectorOptions, 'onError'>> & Pick<LeaderElectorOptions, 'onError'>;
  private observed: LeaseRecord | null = null;
  private observedAt = 0;
  private lastRenewAt = 0;
  private leading = false;
  private timer: TimerHandle | null = null;
  private running = false;
  private busy = false;

  constructor(o: LeaderElectorOptions) {
    this.o = {
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      ...o,
    };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.round();
    this.timer = this.o.clock.setInterval(() => void this.round(), this.o.retryPeriodMs);
  }

  /** Stops campaigning; a leader gives the lease up so another can take over at once. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) this.o.clock.clearInterval(this.timer);
    this.timer = null;
    if (this.leading && this.observed) {
      try {
        await this.o.client.update({ ...this.observed, holder: null, renewTime: null, acquireTime: null });
      } catch {
        // Someone else has it, or the API is gone: either way we are no longer leading.
      }
      this.setLeading(false);
    }
  }

  /** One attempt to acquire or renew. Exposed for tests that drive time by hand. */
  async round(): Promise<void> {
    if (this.busy || !this.running) return;
    this.busy = true;
    try {
      const ok = await this.tryAcquireOrRenew();
      const now = this.o.clock.now();
      if (ok) {
        this.lastRenewAt = now;
        this.setLeading(true);
      } else if (this.leading && now - this.lastRenewAt >= this.o.renewDeadlineMs) {
        this.setLeading(false);
      }
    } catch (err) {
      this.o.onError?.(err);
      if (this.leading && this.o.clock.now() - this.lastRenewAt >= this.o.renewDeadlineMs) this.setLeading(false);
    } finally {
      this.busy = false;
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const c = this.o.client;
    const now = this.o.clock.now();
    const nowIso = new Date(now).toISOString();
    const me = this.o.identity;
    const duration = Math.ceil(this.o.leaseDurationMs / 1000);
    const current = await c.get();
    if (!current) {
      try {
        this.observe(await c.create({ holder: me, leaseDurationSeconds: duration, acquireTime: nowIso, renewTime: nowIso, transitions: 0 }));
        return true;
      } catch (err) {
        if (err instanceof LeaseConflict) return false;
        throw err;
      }
    }
    if (!this.observed || this.observed.resourceVersion !== current.resourceVersion) this.observe(current);
    const heldByOther = current.holder !== null && current.holder !== '' && current.holder !== me;
    if (heldByOther && now < this.observedAt + current.leaseDurationSeconds * 1000) return false;
    const next: LeaseRecord = {
      ...current,
      holder: me,
      leaseDurationSeconds: duration,
      renewTime: nowIso,
      acquireTime: current.holder === me ? current.acquireTime : nowIso,
      transitions: current.holder === me ? current.transitions : current.transitions + 1,
    };
    try {
      this.observe(await c.update(next));
      return true;
    } catch (err) {
      if (err instanceof LeaseConflict) return false;
      throw err;
    }
  }

  private observe(rec: LeaseRecord): void {
    this.observed = rec;
    this.observedAt = this.o.clock.now();
  }

  private setLeading(v: boolean): void {
    if (v === this.leading) return;
    this.leading = v;
    if (v) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }
}
