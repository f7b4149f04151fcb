import type { Endpoint } from '../deploy/backends/backend.js';
import { Breaker } from './breaker.js';

export interface Replica {
  readonly endpoint: Endpoint;
  readonly breaker: Breaker;
  /** Draining replicas finish what they have and take nothing new. */
  draining: boolean;
  /** Out of rotation after a failed connection, until the backend reports it ready again. */
  failed: boolean;
}

/**
 * The ready replicas of one revision and the choice among them:
 * unbounded capacity → least in-flight of two random choices; capacity 1–3 → first available;
 * larger capacity → round-robin that skips full replicas. Never exceeds a replica's capacity.
 */
export class ReplicaSet {
  private replicas: Replica[] = [];
  private cursor = 0;
  private readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  get size(): number {
    return this.replicas.length;
  }

  /** Replicas that may take new requests. */
  get active(): number {
    let n = 0;
    for (const r of this.replicas) if (!r.draining && !r.failed) n++;
    return n;
  }

  list(): readonly Replica[] {
    return this.replicas;
  }

  upsert(endpoint: Endpoint): Replica {
    const existing = this.replicas.find((r) => r.endpoint.id === endpoint.id);
    if (existing) {
      existing.draining = false;
      existing.failed = false;
      return existing;
    }
    const r: Replica = { endpoint, breaker: new Breaker(endpoint.capacity), draining: false, failed: false };
    this.replicas = [...this.replicas, r];
    return r;
  }

  drain(endpointId: string): void {
    const r = this.replicas.find((x) => x.endpoint.id === endpointId);
    if (r) r.draining = true;
  }

  markFailed(endpointId: string): void {
    const r = this.replicas.find((x) => x.endpoint.id === endpointId);
    if (r) r.failed = true;
  }

  remove(endpointId: string): void {
    this.replicas = this.replicas.filter((r) => r.endpoint.id !== endpointId);
  }

  /** Total spare slots over active replicas; Infinity when any is unbounded. */
  spare(): number {
    let n = 0;
    for (const r of this.replicas) {
      if (r.draining || r.failed) continue;
      if (r.breaker.capacity === 0) return Infinity;
      n += r.breaker.capacity - r.breaker.inflight;
    }
    return n;
  }

  /** Picks a replica with room and takes a slot on it, or returns null when all are full. */
  acquire(): Replica | null {
    const rs = this.replicas;
    const n = rs.length;
    if (n === 0) return null;
    const capacity = rs[0]!.breaker.capacity;
    if (capacity === 0) return this.acquireTwoChoices();
    if (capacity <= 3) {
      for (const r of rs) if (!r.draining && !r.failed && r.breaker.tryAcquire()) return r;
      return null;
    }
    for (let i = 0; i < n; i++) {
      const r = rs[(this.cursor + i) % n]!;
      if (!r.draining && !r.failed && r.breaker.tryAcquire()) {
        this.cursor = (this.cursor + i + 1) % n;
        return r;
      }
    }
    return null;
  }

  private acquireTwoChoices(): Replica | null {
    const candidates = this.replicas.filter((r) => !r.draining && !r.failed);
    const n = candidates.length;
    if (n === 0) return null;
    let pick: Replica;
    if (n === 1) pick = candidates[0]!;
    else {
      const i = Math.floor(this.random() * n);
      let j = Math.floor(this.random() * (n - 1));
      if (j >= i) j++;
      const a = candidates[i]!;
      const b = candidates[j]!;
      pick = b.breaker.inflight < a.breaker.inflight ? b : a;
    }
    pick.breaker.tryAcquire();
    return pick;
  }
}
