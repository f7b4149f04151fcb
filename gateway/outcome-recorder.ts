import type { WindowStats } from '../deploy/rollout-policy.js';

/** One finished request as the rollout gate sees it. */
interface Outcome {
  at: number;
  /** HTTP status sent (0 when nothing was sent). */
  status: number;
  /** Model latency: total time minus the time the request waited for a cold replica. */
  latencyMs: number;
}

export interface OutcomeRecorderOptions {
  /** Outcomes kept per revision (a ring; the oldest drop). */
  perRevision?: number;
  /** Revisions tracked; the least recently written is forgotten beyond it. */
  maxRevisions?: number;
}

/**
 * Per-revision request outcomes for the progressive-delivery gate. The gateway calls `record` once per request;
 * the controller reads `stats(key, since)`. Bounded: a ring per revision and a bounded number of revisions.
 * Client disconnects (499) are not outcomes of the revision and are left out; 5xx count as errors.
 */
export class OutcomeRecorder {
  private readonly rings = new Map<string, { buf: Outcome[]; next: number }>();
  private readonly perRevision: number;
  private readonly maxRevisions: number;

  constructor(o: OutcomeRecorderOptions = {}) {
    this.perRevision = o.perRevision ?? 4096;
    this.maxRevisions = o.maxRevisions ?? 1024;
  }

  record(revisionKey: string, at: number, status: number, totalMs: number, coldStartMs: number): void {
    if (status === 499) return;
    let ring = this.rings.get(revisionKey);
    if (ring) {
      // Re-insert to keep map order = recency of writes.
      this.rings.delete(revisionKey);
    } else {
      ring = { buf: [], next: 0 };
      if (this.rings.size >= this.maxRevisions) {
        const oldest = this.rings.keys().next().value;
        if (oldest !== undefined) this.rings.delete(oldest);
      }
    }
    this.rings.set(revisionKey, ring);
    const o: Outcome = { at, status, latencyMs: Math.max(0, totalMs - coldStartMs) };
    if (ring.buf.length < this.perRevision) ring.buf.push(o);
    else {
      ring.buf[ring.next] = o;
      ring.next = (ring.next + 1) % this.perRevision;
    }
  }

  /** Requests, errors (status ≥ 500 or 0) and p99 model latency of a revision since `since` (clock ms). */
  stats(revisionKey: string, since: number): WindowStats {
    const ring = this.rings.get(revisionKey);
    if (!ring) return { requests: 0, errors: 0, p99Ms: null };
    const lat: number[] = [];
    let errors = 0;
    for (const o of ring.buf) {
      if (o.at < since) continue;
      lat.push(o.latencyMs);
      if (o.status >= 500 || o.status === 0) errors++;
    }
    if (lat.length === 0) return { requests: 0, errors: 0, p99Ms: null };
    lat.sort((a, b) => a - b);
    const p99 = lat[Math.min(lat.length - 1, Math.ceil(lat.length * 0.99) - 1)]!;
    return { requests: lat.length, errors, p99Ms: p99 };
  }

  forget(revisionKey: string): void {
    this.rings.delete(revisionKey);
  }
}
