import type { Endpoint } from '../api/backend.js';
import { Breaker } from './breaker.js';

/**
 * Where a replica stands in the activator's rotation:
 * - `probing`: announced by the backend, not yet confirmed by the activator's own probe (takes nothing);
 * - `active`: takes new requests;
 * - `failed`: a probe or a connection failed; out of rotation and re-probed until it answers;
 * - `draining`: being stopped; finishes what it has and takes nothing new.
 */
export type ReplicaState = 'probing' | 'active' | 'failed' | 'draining';

export interface Replica {
  readonly endpoint: Endpoint;
  readonly breaker: Breaker;
  state: ReplicaState;
  /** Consecutive failed health probes while active. */
  probeFailures: number;
  /**
   * Order in which the replica first entered its activator's rotation (1, 2, …); 0 until then. A replica that
   * comes back after a failure keeps its number: coming back is not a start.
   */
  joinedRotation: number;
}

/**
 * The replicas of one revision and the choice among them:
 * unbounded capacity → least in-flight of two random choices; capacity 1–3 → first available;
 * larger capacity → round-robin that skips full replicas. Never exceeds a replica's capacity, nor this gateway's
 * share of it (Breaker.limit).
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
    for (const r of this.replicas) if (r.state === 'active') n++;
    return n;
  }

  list(): readonly Replica[] {
    return this.replicas;
  }

  get(endpointId: string): Replica | undefined {
    return this.replicas.find((r) => r.endpoint.id === endpointId);
  }

  /** Adds a replica (or brings a known one back) in the given state. */
  upsert(endpoint: Endpoint, state: 'probing' | 'active' = 'active', limit = Infinity): Replica {
    const existing = this.get(endpoint.id);
    if (existing) {
      existing.state = state;
      existing.probeFailures = 0;
      return existing;
    }
    const r: Replica = { endpoint, breaker: new Breaker(endpoint.capacity, limit), state, probeFailures: 0, joinedRotation: 0 };
    this.replicas = [...this.replicas, r];
    return r;
  }

  setState(endpointId: string, state: ReplicaState): Replica | undefined {
    const r = this.get(endpointId);
    if (!r) return undefined;
    if (r.state === 'draining' && state !== 'draining') return r; // a draining replica never comes back
    r.state = state;
    if (state === 'active') r.probeFailures = 0;
    return r;
  }

  remove(endpointId: string): Replica | undefined {
    const r = this.get(endpointId);
    this.replicas = this.replicas.filter((x) => x.endpoint.id !== endpointId);
    return r;
  }

  /** Total spare slots (within this gateway's share) over active replicas; Infinity when any is unbounded. */
  spare(): number {
    let n = 0;
    for (const r of this.replicas) {
      if (r.state !== 'active') continue;
      const max = r.breaker.effectiveLimit;
      if (max === Infinity) return Infinity;
      n += Math.max(0, max - r.breaker.inflight);
    }
    return n;
  }

  /**
   * Picks a replica with room and takes a slot on it, or returns null when all are full. `softLimit` caps
   * in-flight per replica when capacity is unbounded (used when releasing a backlog, so the first ready
   * replica is not flooded while more are starting).
   */
  acquire(softLimit = Infinity): Replica | null {
    const rs = this.replicas;
    const n = rs.length;
    if (n === 0) return null;
    const capacity = rs[0]!.breaker.capacity;
    if (capacity === 0) return this.acquireTwoChoices(softLimit);
    if (capacity <= 3) {
      for (const r of rs) if (r.state === 'active' && r.breaker.tryAcquire()) return r;
      return null;
    }
    for (let i = 0; i < n; i++) {
      const r = rs[(this.cursor + i) % n]!;
      if (r.state === 'active' && r.breaker.tryAcquire()) {
        this.cursor = (this.cursor + i + 1) % n;
        return r;
      }
    }
    return null;
  }

  private acquireTwoChoices(softLimit: number): Replica | null {
    const candidates = this.replicas.filter((r) => r.state === 'active' && r.breaker.inflight < softLimit && r.breaker.hasRoom());
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
