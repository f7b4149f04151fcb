import { describe, expect, it } from 'vitest';
import { ReplicaBudget, formatBytes } from './replica-budget.js';

const MiB = 2 ** 20;

function recorder() {
  const seen = { pending: [] as number[], inUse: [] as Array<[number, number]>, deferred: 0 };
  return {
    seen,
    observer: {
      pending: (n: number) => seen.pending.push(n),
      inUse: (r: number, m: number) => seen.inUse.push([r, m]),
      deferred: (n: number) => (seen.deferred += n),
    },
  };
}

describe('ReplicaBudget', () => {
  it('counts replicas and memory, and names the bound that blocks', () => {
    const { seen, observer } = recorder();
    const b = new ReplicaBudget({ maxReplicas: 2, memoryBytes: 512 * MiB }, observer);
    expect(b.blocks(256 * MiB)).toBeNull();
    b.take(300 * MiB);
    expect(b.blocks(256 * MiB)).toBe('memory');
    expect(b.blocks(200 * MiB)).toBeNull();
    b.take(200 * MiB);
    expect(b.blocks(1)).toBe('replicas');
    expect(b.blocks(513 * MiB)).toBe('never');
    b.release(300 * MiB);
    expect([b.replicasInUse, b.memoryInUse]).toEqual([1, 200 * MiB]);
    expect(seen.inUse.at(-1)).toEqual([1, 200 * MiB]);
  });

  it('admits a revision with held requests first, then in arrival order; skips one that can never fit', () => {
    const { seen, observer } = recorder();
    const b = new ReplicaBudget({ maxReplicas: 4, memoryBytes: 1024 * MiB }, observer);
    b.setPending('ns/a', 1);
    b.setPending('ns/huge', 1);
    b.setPending('ns/b', 2);
    b.setPending('ns/c', 1);
    expect(b.pendingReplicas).toBe(5);
    expect(seen.pending.at(-1)).toBe(5);
    const memory = (k: string): number => (k === 'ns/huge' ? 2048 * MiB : 100 * MiB);
    expect(b.next(() => false, memory)).toBe('ns/a');
    expect(b.next((k) => k === 'ns/c' || k === 'ns/b', memory)).toBe('ns/b');
    b.setPending('ns/a', 0);
    // Re-setting a queued revision's count keeps its place.
    b.setPending('ns/b', 1);
    expect(b.next(() => false, memory)).toBe('ns/b');
    expect(b.pendingCondition('ns/huge', 2048 * MiB)).toMatchObject({ status: 'False', reason: 'ReplicaExceedsMemoryBudget' });
    b.setPending('ns/b', 0);
    b.setPending('ns/c', 0);
    expect(b.next(() => true, memory)).toBeNull();
    expect(b.pendingReplicas).toBe(1);
  });

  it('says why a revision waits, with the numbers', () => {
    const b = new ReplicaBudget({ maxReplicas: 2, memoryBytes: 1024 * MiB });
    b.take(256 * MiB);
    b.take(256 * MiB);
    b.setPending('ns/a', 3);
    expect(b.pendingCondition('ns/a', 256 * MiB)).toEqual({
      type: 'ResourcesAvailable',
      status: 'False',
      reason: 'ReplicaBudgetExhausted',
      message: '2 of 2 replicas in use (maxReplicasTotal); 3 pending for this revision, 3 in all',
    });
    b.release(256 * MiB);
    expect(b.pendingCondition('ns/a', 800 * MiB)).toMatchObject({
      reason: 'MemoryBudgetExhausted',
      message: '256 MiB of 1 GiB replica memory in use (replicaMemoryBudget), a replica needs 800 MiB; 3 pending for this revision, 3 in all',
    });
    expect(b.admittedCondition()).toMatchObject({ status: 'True', reason: 'ReplicasAdmitted' });
  });

  it('refuses a budget that admits nothing', () => {
    expect(() => new ReplicaBudget({ maxReplicas: 0, memoryBytes: 1 })).toThrow(/maxReplicasTotal must be a positive integer, got 0/);
    expect(() => new ReplicaBudget({ maxReplicas: 1, memoryBytes: 0 })).toThrow(/replicaMemoryBudget/);
  });

  it('formats bytes', () => {
    expect([formatBytes(512), formatBytes(256 * MiB), formatBytes(1.5 * 2 ** 30)]).toEqual(['512 B', '256 MiB', '1.5 GiB']);
  });
});
