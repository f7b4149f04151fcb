/**
 * The local backend's global replica budget: how many replica processes may exist at once, and how much memory
 * (the runtimes' `resources.requests.memory`) they may claim together. A replica holds its share from the moment
 * it is started until its process has exited (a stopping replica still holds memory).
 *
 * Replicas asked for beyond the budget are pending: the scale request is accepted and the revision waits in
 * the admission queue (one entry per revision, so the queue is bounded by the number of revisions). Order: the
 * first revision in arrival order that has requests held for it, else the first in arrival order (FIFO). A
 * replica that could never fit (its memory request alone exceeds the budget) is skipped, never started.
 */
import type { RevisionCondition } from '../../../api/backend.js';

export interface ReplicaBudgetLimits {
  /** Replica processes at once, across every revision (`maxReplicasTotal`). */
  maxReplicas: number;
  /** Sum of running replicas' memory requests, bytes (`replicaMemoryBudget`). */
  memoryBytes: number;
}

/** Why a replica cannot start now; null when it fits. */
export type BudgetBlock = 'replicas' | 'memory' | 'never' | null;

/** Where the budget's numbers go (embedded mode: Prometheus gauges and a counter). */
export interface ReplicaBudgetObserver {
  /** Replicas asked for and not started for want of budget, across every revision. */
  pending(replicas: number): void;
  /** What running replicas hold now. */
  inUse(replicas: number, memoryBytes: number): void;
  /** Replicas whose start was deferred (counter). */
  deferred(replicas: number): void;
}

export class ReplicaBudget {
  private replicas = 0;
  private memory = 0;
  /** Revisions with pending replicas → how many, in arrival order (a Map keeps insertion order). */
  private readonly queue = new Map<string, number>();
  private pendingTotal = 0;

  constructor(
    readonly limits: ReplicaBudgetLimits,
    private readonly observer: ReplicaBudgetObserver | null = null,
  ) {
    if (!Number.isInteger(limits.maxReplicas) || limits.maxReplicas < 1) throw new Error(`maxReplicasTotal must be a positive integer, got ${limits.maxReplicas}`);
    if (!(limits.memoryBytes > 0)) throw new Error(`replicaMemoryBudget must be a positive number of bytes, got ${limits.memoryBytes}`);
    observer?.inUse(0, 0);
    observer?.pending(0);
  }

  get replicasInUse(): number {
    return this.replicas;
  }

  get memoryInUse(): number {
    return this.memory;
  }

  get pendingReplicas(): number {
    return this.pendingTotal;
  }

  /** Whether one more replica needing `memoryBytes` fits now. */
  blocks(memoryBytes: number): BudgetBlock {
    if (memoryBytes > this.limits.memoryBytes) return 'never';
    if (this.replicas >= this.limits.maxReplicas) return 'replicas';
    if (this.memory + memoryBytes > this.limits.memoryBytes) return 'memory';
    return null;
  }

  take(memoryBytes: number): void {
    this.replicas++;
    this.memory += memoryBytes;
    this.observer?.inUse(this.replicas, this.memory);
  }

  release(memoryBytes: number): void {
    this.replicas = Math.max(0, this.replicas - 1);
    this.memory = Math.max(0, this.memory - memoryBytes);
    this.observer?.inUse(this.replicas, this.memory);
  }

  /** Sets a revision's pending replicas (0 takes it out of the queue; a revision keeps its place while queued). */
  setPending(revisionKey: string, replicas: number): void {
    const before = this.queue.get(revisionKey) ?? 0;
    if (replicas === before) return;
    if (replicas > 0) this.queue.set(revisionKey, replicas);
    else this.queue.delete(revisionKey);
    this.pendingTotal += replicas - before;
    this.observer?.pending(this.pendingTotal);
  }

  pending(revisionKey: string): number {
    return this.queue.get(revisionKey) ?? 0;
  }

  /** Counts replicas whose start had to wait. */
  deferred(replicas: number): void {
    if (replicas > 0) this.observer?.deferred(replicas);
  }

  /**
   * The revision whose replica starts next, or null: the first queued revision with requests held for it, else
   * the first queued; revisions whose replica can never fit are passed over.
   */
  next(held: (revisionKey: string) => boolean, memoryOf: (revisionKey: string) => number): string | null {
    let first: string | null = null;
    for (const key of this.queue.keys()) {
      if (this.blocks(memoryOf(key)) === 'never') continue;
      if (held(key)) return key;
      first ??= key;
    }
    return first;
  }

  /** The condition a revision with pending replicas reports (Knative's `ResourcesAvailable`). */
  pendingCondition(revisionKey: string, memoryBytes: number): RevisionCondition {
    const pending = this.pending(revisionKey);
    const tail = `; ${pending} pending for this revision, ${this.pendingTotal} in all`;
    const block = this.blocks(memoryBytes);
    if (block === 'never') {
      return {
        type: 'ResourcesAvailable',
        status: 'False',
        reason: 'ReplicaExceedsMemoryBudget',
        message: `a replica requests ${formatBytes(memoryBytes)} of memory, more than the whole replicaMemoryBudget of ${formatBytes(this.limits.memoryBytes)}: it cannot start${tail}`,
      };
    }
    if (block === 'memory' || (block === null && this.memory + memoryBytes > this.limits.memoryBytes)) {
      return {
        type: 'ResourcesAvailable',
        status: 'False',
        reason: 'MemoryBudgetExhausted',
        message: `${formatBytes(this.memory)} of ${formatBytes(this.limits.memoryBytes)} replica memory in use (replicaMemoryBudget), a replica needs ${formatBytes(memoryBytes)}${tail}`,
      };
    }
    if (block === 'replicas') {
      return {
        type: 'ResourcesAvailable',
        status: 'False',
        reason: 'ReplicaBudgetExhausted',
        message: `${this.replicas} of ${this.limits.maxReplicas} replicas in use (maxReplicasTotal)${tail}`,
      };
    }
    // Room now, but others are ahead in the queue (it starts as soon as they do).
    return {
      type: 'ResourcesAvailable',
      status: 'False',
      reason: 'WaitingForAdmission',
      message: `queued behind other revisions for the replica budget (${this.replicas} of ${this.limits.maxReplicas} replicas in use)${tail}`,
    };
  }

  /** The condition of a revision that waited before and has every asked replica started now. */
  admittedCondition(): RevisionCondition {
    return {
      type: 'ResourcesAvailable',
      status: 'True',
      reason: 'ReplicasAdmitted',
      message: `every replica asked for is started (${this.replicas} of ${this.limits.maxReplicas} replicas in use)`,
    };
  }
}

/** `1.5 GiB`, `256 MiB`, `512 B`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : +v.toFixed(1)} ${units[i]}`;
}
