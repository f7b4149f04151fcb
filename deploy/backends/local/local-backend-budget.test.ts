import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { revisionKey, type Revision } from '../../../api/revision.js';
import { FakeClock } from '../../../core/clock.js';
import { LocalBackend, replicaMemoryRequest, type LocalBackendOptions } from './local-backend.js';
import { demoRevision } from '../../../test/support/demo-revision.js';
import { SLUICE_ROOT } from '../../../test/support/paths.js';
import { pidAlive, waitUntil } from '../../../test/support/wait.js';

const MiB = 2 ** 20;
const stateDir = mkdtempSync(join(tmpdir(), 'sluice-budget-test-'));
const backends: LocalBackend[] = [];

/** A backend on a FakeClock (no probe or drain timer fires by itself: only real spawns and exits move it). */
function makeBackend(opts: Partial<LocalBackendOptions>) {
  const seen = { maxReplicas: 0, deferred: 0, pending: 0 };
  const backend = new LocalBackend({
    sluiceRoot: SLUICE_ROOT,
    cwd: SLUICE_ROOT,
    stateDir,
    clock: new FakeClock(Date.now()),
    drainDelayMs: 0,
    budgetObserver: {
      pending: (n) => (seen.pending = n),
      inUse: (r) => (seen.maxReplicas = Math.max(seen.maxReplicas, r)),
      deferred: (n) => (seen.deferred += n),
    },
    ...opts,
  });
  backends.push(backend);
  return { backend, seen };
}

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

function withMemory(rev: Revision, requests: Record<string, string>, limits: Record<string, string> = {}): Revision {
  return { ...rev, container: { ...rev.container, resources: { requests, limits } } };
}

const live = (b: LocalBackend, key: string): number => b.counts(key).starting + b.counts(key).ready;

describe('LocalBackend: the global replica budget', () => {
  it('budget 2: a third replica stays pending with a condition; scaling another revision down starts it', async () => {
    const { backend, seen } = makeBackend({ budget: { maxReplicas: 2 } });
    const a = demoRevision({ service: 'a' });
    const b = demoRevision({ service: 'b' });
    const [ka, kb] = [revisionKey(a), revisionKey(b)];
    await backend.apply(a);
    await backend.apply(b);
    await backend.scale(ka, 2);
    await backend.scale(kb, 1);
    expect(live(backend, ka)).toBe(2);
    expect(backend.counts(kb)).toEqual({ desired: 1, starting: 0, ready: 0 });
    expect(backend.admission(kb)).toEqual({
      pending: 1,
      condition: {
        type: 'ResourcesAvailable',
        status: 'False',
        reason: 'ReplicaBudgetExhausted',
        message: '2 of 2 replicas in use (maxReplicasTotal); 1 pending for this revision, 1 in all',
      },
    });
    expect(backend.admission(ka)).toEqual({ pending: 0, condition: null });
    expect(seen).toMatchObject({ deferred: 1, pending: 1 });
    await waitUntil('two processes', () => backend.pids().length === 2);
    const before = backend.pids();

    await backend.scale(ka, 1);
    await waitUntil('b started', () => live(backend, kb) === 1, 20_000);
    expect(backend.admission(kb)).toMatchObject({ pending: 0, condition: { status: 'True', reason: 'ReplicasAdmitted' } });
    expect(live(backend, ka)).toBe(1);
    expect(before.filter(pidAlive)).toHaveLength(1);
    expect(seen).toMatchObject({ maxReplicas: 2, pending: 0 });
    expect(backend.budgetInUse()).toEqual({ replicas: 2, memoryBytes: 2 * 256 * MiB, pending: 0 });
  });

  it('admits a revision with held requests before earlier ones, then the earlier ones in order', async () => {
    const held = new Set<string>();
    const { backend } = makeBackend({ budget: { maxReplicas: 1 }, waiting: (k) => (held.has(k) ? 1 : 0) });
    const [first, b, c] = ['first', 'b', 'c'].map((service) => demoRevision({ service }));
    for (const r of [first!, b!, c!]) await backend.apply(r);
    const [kf, kb, kc] = [first!, b!, c!].map(revisionKey);
    await backend.scale(kf!, 1);
    await backend.scale(kb!, 1);
    await backend.scale(kc!, 1);
    held.add(kc!);
    expect([backend.admission(kb!)?.pending, backend.admission(kc!)?.pending]).toEqual([1, 1]);
    await backend.scale(kf!, 0);
    await waitUntil('c (held requests) started first', () => live(backend, kc!) === 1, 20_000);
    expect(backend.admission(kb!)?.pending).toBe(1);
    held.delete(kc!);
    await backend.scale(kc!, 0);
    await waitUntil('then b', () => live(backend, kb!) === 1, 20_000);
  });

  it('counts memory requests (a limit when no request, a documented default when neither) against the memory budget', async () => {
    const { backend } = makeBackend({ budget: { maxReplicas: 10, memoryBytes: 512 * MiB }, defaultReplicaMemoryBytes: 256 * MiB });
    const big = withMemory(demoRevision({ service: 'big' }), { memory: '300Mi' });
    const plain = demoRevision({ service: 'plain' });
    const huge = withMemory(demoRevision({ service: 'huge' }), {}, { memory: '1Gi' });
    expect(replicaMemoryRequest(big, 256 * MiB)).toBe(300 * MiB);
    expect(replicaMemoryRequest(plain, 256 * MiB)).toBe(256 * MiB);
    expect(replicaMemoryRequest(huge, 256 * MiB)).toBe(1024 * MiB);
    for (const r of [big, plain, huge]) await backend.apply(r);
    await backend.scale(revisionKey(huge), 1);
    await backend.scale(revisionKey(big), 1);
    await backend.scale(revisionKey(plain), 1);
    expect(backend.budgetInUse()).toEqual({ replicas: 1, memoryBytes: 300 * MiB, pending: 2 });
    expect(backend.admission(revisionKey(plain))?.condition).toEqual({
      type: 'ResourcesAvailable',
      status: 'False',
      reason: 'MemoryBudgetExhausted',
      message: '300 MiB of 512 MiB replica memory in use (replicaMemoryBudget), a replica needs 256 MiB; 1 pending for this revision, 2 in all',
    });
    expect(backend.admission(revisionKey(huge))?.condition).toMatchObject({ status: 'False', reason: 'ReplicaExceedsMemoryBudget' });
    await backend.scale(revisionKey(big), 0);
    // The huge one can never start and does not block the queue behind it.
    await waitUntil('plain started', () => live(backend, revisionKey(plain)) === 1, 20_000);
    expect(backend.budgetInUse()).toEqual({ replicas: 1, memoryBytes: 256 * MiB, pending: 1 });
    expect(live(backend, revisionKey(huge))).toBe(0);
  });

  it('accepts a scale past the budget (extra replicas pending, bounded by the budget) and forgets them on scale-down', async () => {
    const { backend } = makeBackend({ budget: { maxReplicas: 2 } });
    const rev = demoRevision();
    const key = revisionKey(rev);
    await backend.apply(rev);
    await backend.scale(key, 100);
    expect(backend.counts(key)).toMatchObject({ desired: 100, starting: 2 });
    expect(backend.admission(key)?.pending).toBe(98);
    await backend.scale(key, 1);
    expect(backend.admission(key)).toMatchObject({ pending: 0, condition: { status: 'True' } });
    expect(backend.budgetInUse().pending).toBe(0);
    await backend.remove(key);
    expect(backend.budgetInUse()).toEqual({ replicas: 0, memoryBytes: 0, pending: 0 });
  });
});
