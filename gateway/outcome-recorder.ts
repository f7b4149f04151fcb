import type { OutcomeSink } from './shared-outcomes.js';

/** Request outcomes of one revision over a window; latency is model latency (cold-start waits excluded). */
export interface WindowStats {
  requests: number;
  errors: number;
  /** p99 of model latency in ms; null without samples. */
  p99Ms: number | null;
}

export interface OutcomeRecorderOptions {
  /** Outcomes kept per revision (a ring; the oldest drop). */
  perRevision?: number;
  /** Revisions tracked; the least recently written is forgotten beyond it. */
  maxRevisions?: number;
}

/**
 * One revision's last outcomes, column-wise in typed arrays so recording a request allocates nothing:
 * when it finished (clock ms), the HTTP status sent (0 when nothing was sent) and its model latency (total time
 * minus the time it waited for a cold replica).
 */
class OutcomeRing {
  at: Float64Array;
  status: Uint16Array;
  latencyMs: Float64Array;
  size = 0;
  next = 0;

  /** Starts small and doubles up to `capacity`, so a revision that sees few requests costs little. */
  constructor(private readonly capacity: number) {
    const initial = Math.min(capacity, 64);
    this.at = new Float64Array(initial);
    this.status = new Uint16Array(initial);
    this.latencyMs = new Float64Array(initial);
  }

  push(at: number, status: number, latencyMs: number): void {
    if (this.size === this.at.length && this.size < this.capacity) this.grow();
    const i = this.next;
    this.at[i] = at;
    this.status[i] = status;
    this.latencyMs[i] = latencyMs;
    this.next = (i + 1) % this.at.length;
    if (this.size < this.at.length) this.size++;
  }

  // Only called before the ring first wraps (size === length, next === 0), so a plain copy keeps the order.
  private grow(): void {
    const n = Math.min(this.capacity, this.at.length * 2);
    const at = new Float64Array(n);
    const status = new Uint16Array(n);
    const latencyMs = new Float64Array(n);
    at.set(this.at);
    status.set(this.status);
    latencyMs.set(this.latencyMs);
    this.next = this.size;
    this.at = at;
    this.status = status;
    this.latencyMs = latencyMs;
  }
}

/**
 * Per-revision request outcomes for the progressive-delivery gate. The gateway calls `record` once per request;
 * the controller reads `stats(key, since)`. Bounded: a ring per revision and a bounded number of revisions.
 * Client disconnects (499) are not outcomes of the revision and are left out; 5xx count as errors.
 */
export class OutcomeRecorder implements OutcomeSink {
  private readonly rings = new Map<string, OutcomeRing>();
  private readonly perRevision: number;
  private readonly maxRevisions: number;
  /** The revision written last: already at the recent end of `rings`, so it needs no re-insert. */
  private lastKey: string | undefined;

  constructor(o: OutcomeRecorderOptions = {}) {
    this.perRevision = o.perRevision ?? 4096;
    this.maxRevisions = o.maxRevisions ?? 1024;
  }

  record(revisionKey: string, at: number, status: number, totalMs: number, coldStartMs: number): void {
    if (status === 499) return;
    let ring = this.rings.get(revisionKey);
    if (revisionKey !== this.lastKey) {
      if (ring) {
        // Re-insert to keep map order = recency of writes.
        this.rings.delete(revisionKey);
      } else {
        ring = new OutcomeRing(this.perRevision);
        if (this.rings.size >= this.maxRevisions) {
          const oldest = this.rings.keys().next().value;
          if (oldest !== undefined) this.rings.delete(oldest);
        }
      }
      this.rings.set(revisionKey, ring);
      this.lastKey = revisionKey;
    }
    ring!.push(at, status, Math.max(0, totalMs - coldStartMs));
  }

  /** Requests, errors (status ≥ 500 or 0) and p99 model latency of a revision since `since` (clock ms). */
  stats(revisionKey: string, since: number): WindowStats {
    const ring = this.rings.get(revisionKey);
    if (!ring) return { requests: 0, errors: 0, p99Ms: null };
    const lat: number[] = [];
    let errors = 0;
    for (let i = 0; i < ring.size; i++) {
      if (ring.at[i]! < since) continue;
      lat.push(ring.latencyMs[i]!);
      const s = ring.status[i]!;
      if (s >= 500 || s === 0) errors++;
    }
    if (lat.length === 0) return { requests: 0, errors: 0, p99Ms: null };
    lat.sort((a, b) => a - b);
    const p99 = lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)]!;
    return { requests: lat.length, errors, p99Ms: p99 };
  }

  forget(revisionKey: string): void {
    this.rings.delete(revisionKey);
    if (this.lastKey === revisionKey) this.lastKey = undefined;
  }
}
