import { describe, expect, it } from 'vitest';
import { controllerHarness, isvc } from '../test/support/controller-harness.js';

const key = (n: number): string => `default/iris-predictor-0000${n}`;

describe('revisions', () => {
  it('metadata-only changes and traffic fields make no revision; serving changes do, and keep their exact spec', async () => {
    const h = controllerHarness();
    const first = await h.controller.apply(isvc('iris', 'gs://m/v1'), 'api');
    expect(first.newRevision).toBe('iris-predictor-00001');
    const relabelled = isvc('iris', 'gs://m/v1', '', { 'example.com/owner': 'team-a' });
    relabelled.metadata.labels = { tier: 'gold' };
    expect((await h.controller.apply(relabelled, 'api')).newRevision).toBeNull();
    expect((await h.controller.apply(isvc('iris', 'gs://m/v1', '    canaryTrafficPercent: 30\n'), 'api')).newRevision).toBeNull();
    const v2 = await h.controller.apply(isvc('iris', 'gs://m/v2', '    containerConcurrency: 4\n'), 'api');
    expect(v2.newRevision).toBe('iris-predictor-00002');
    const revs = h.controller.revisionsOf('default', 'iris')!;
    expect(revs.map((r) => r.name)).toEqual(['iris-predictor-00001', 'iris-predictor-00002']);
    expect(revs[0]!.spec).toMatchObject({ model: { storageUri: 'gs://m/v1' } });
    expect(revs[1]!.spec).toMatchObject({ containerConcurrency: 4, model: { storageUri: 'gs://m/v2' } });
    expect(revs[0]!.spec).not.toHaveProperty('containerConcurrency');
  });

  it('deletes old revisions with no traffic beyond the kept count, never the rolled-out ones', async () => {
    const h = controllerHarness({ revisionHistoryLimit: 2 });
    for (let v = 1; v <= 7; v++) {
      await h.controller.apply(isvc('iris', `gs://m/v${v}`), 'api');
      h.backend.markReady(key(v));
    }
    // v7 serves (latest rolled out), v6 is previous rolled out; of the idle v1..v5 the newest two stay.
    expect(h.controller.revisionsOf('default', 'iris')!.map((r) => r.generation)).toEqual([4, 5, 6, 7]);
    expect(h.backend.removed).toEqual([key(1), key(2), key(3)]);
    const obj = h.controller.get('default', 'iris') as unknown as { status: { events: Array<{ reason: string; message: string }> } };
    expect(obj.status.events.filter((e) => e.reason === 'RevisionDeleted').map((e) => e.message)[0]).toMatch(
      /deleted revision iris-predictor-00001: no traffic, not rolled out, beyond the 2 kept/,
    );
  });

  it('a revision no route reaches scales to zero even with minReplicas 1; routed again, it gets its minimum back', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
    h.backend.markReady(key(1));
    expect(h.backend.desired.get(key(1))).toBe(1);
    await h.controller.apply(isvc('iris', 'gs://m/v2', '    minReplicas: 1\n'), 'api');
    h.backend.markReady(key(2));
    // v1 is unrouted now: the autoscaler lets it go once idle past its windows.
    for (let i = 0; i < 10; i++) {
      h.clock.advance(15_000);
      await h.autoscaler.tick();
    }
    expect(h.backend.desired.get(key(1))).toBe(0);
    expect(h.backend.desired.get(key(2))).toBe(1);
    await h.controller.updateTraffic('default', 'iris', { op: 'rollback' });
    for (let i = 0; i < 3; i++) {
      h.clock.advance(2_000);
      await h.autoscaler.tick();
    }
    expect(h.backend.desired.get(key(1))).toBe(1);
  });
});
