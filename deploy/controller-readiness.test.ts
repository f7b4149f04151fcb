import { describe, expect, it } from 'vitest';
import { controllerHarness, isvc } from '../test/support/controller-harness.js';

const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';
const R3 = 'iris-predictor-00003';
const k = (rev: string): string => `default/${rev}`;
/** minReplicas 0 and initial-scale 0: the README example's settings. */
const ZERO = { 'autoscaling.knative.dev/initial-scale': '0' };
const MIN0 = '    minReplicas: 0\n';

type Obj = Record<string, unknown>;
interface Status {
  conditions: Array<{ type: string; status: string; reason?: string; message?: string }>;
  components: { predictor: { latestCreatedRevision?: string; latestReadyRevision?: string; traffic: Array<{ revisionName: string; percent: number }> } };
  revisions: Array<Obj>;
  events: Array<{ type: string; reason: string; message: string }>;
}
type H = ReturnType<typeof controllerHarness>;
const status = (h: H): Status => (h.controller.get('default', 'iris') as unknown as { status: Status }).status;
const condition = (h: H, type: string) => status(h).conditions.find((c) => c.type === type);

/** What the gateway routes on: revision → percent, summed. */
function dataPlane(h: H): Record<string, number> {
  const route = h.snapshot.current.routes.byName.get('default/iris')!;
  const out: Record<string, number> = {};
  for (const t of route.targets) out[t.revisionName] = (out[t.revisionName] ?? 0) + t.percent;
  return out;
}

/** A service whose first revision has been ready (woken by a request), like `iris` after its first request. */
async function servingV1(h: H, annotations: Record<string, string> = ZERO): Promise<void> {
  await h.controller.apply(isvc('iris', 'gs://m/v1', MIN0, annotations), 'api');
  h.backend.markReady(k(R1));
}

describe('a new revision takes traffic only once it has been ready', () => {
  it('a new revision at zero is started once at deploy, takes traffic only when ready, then goes back to its own settings', async () => {
    const h = controllerHarness();
    await servingV1(h);
    await h.controller.apply(isvc('iris', 'gs://m/v2', MIN0, ZERO), 'api');
    // Asked for one replica although minReplicas and initial-scale are 0; no traffic until it is ready.
    expect(h.backend.desired.get(k(R2))).toBe(1);
    expect(dataPlane(h)).toEqual({ [R1]: 100 });
    expect(status(h).components.predictor).toMatchObject({ latestCreatedRevision: R2, latestReadyRevision: R1, traffic: [{ revisionName: R1, percent: 100 }] });
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({ status: 'Unknown', reason: 'RevisionNotReady' });
    // While it starts, the autoscaler keeps it at one replica however idle it is.
    for (let i = 0; i < 10; i++) {
      h.clock.advance(15_000);
      await h.autoscaler.tick();
    }
    expect(h.backend.desired.get(k(R2))).toBe(1);
    h.backend.markReady(k(R2));
    expect(dataPlane(h)).toEqual({ [R2]: 100 });
    expect(status(h).components.predictor).toMatchObject({ latestReadyRevision: R2, traffic: [{ revisionName: R2, percent: 100 }] });
    expect(condition(h, 'Ready')).toMatchObject({ status: 'True' });
    // Proven: its own minimum (0) is back, so once idle past the stable window and grace it goes to zero.
    for (let i = 0; i < 10; i++) {
      h.clock.advance(15_000);
      await h.autoscaler.tick();
    }
    expect(h.backend.desired.get(k(R2))).toBe(0);
  });

  it('the first revision at initial-scale 0 is not started at deploy; requests are held for it meanwhile', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', MIN0, ZERO), 'api');
    expect(h.backend.desired.get(k(R1)) ?? 0).toBe(0);
    expect(dataPlane(h)).toEqual({ [R1]: 100 });
    expect(status(h).components.predictor.latestReadyRevision).toBeUndefined();
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({ status: 'Unknown', reason: 'RevisionNotStarted' });
    // Waiting at zero for a request is not progress to time out.
    h.clock.advance(3_600_000);
    await h.controller.checkStarts();
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({ status: 'Unknown', reason: 'RevisionNotStarted' });
  });

  it('a first revision woken by a request has its progress deadline (default 10 minutes) from then on', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', MIN0, ZERO), 'api');
    h.clock.advance(3_600_000);
    await h.autoscaler.poke(k(R1)); // a held request wakes it
    expect(h.backend.desired.get(k(R1))).toBe(1);
    await h.controller.checkStarts();
    h.clock.advance(599_000);
    await h.controller.checkStarts();
    expect(condition(h, 'Ready')).toMatchObject({ status: 'Unknown' });
    h.clock.advance(1_000);
    await h.controller.checkStarts();
    expect(condition(h, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'RevisionFailed',
      message: `revision ${R1} failed to become ready: not ready within the progress deadline of 10m`,
    });
    expect(h.snapshot.current.revisions.get(k(R1))?.failed).toBe(`revision ${R1} failed to become ready: not ready within the progress deadline of 10m`);
    expect(h.backend.desired.get(k(R1))).toBe(0);
  });

  it('the progress deadline does not run while the revision waits for the local replica budget', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', MIN0, ZERO), 'api');
    await h.autoscaler.poke(k(R1));
    h.backend.pending.set(k(R1), 1);
    await h.controller.checkStarts();
    h.clock.advance(3_600_000);
    await h.controller.checkStarts();
    expect(condition(h, 'Ready')).toMatchObject({ status: 'Unknown' });
    expect(status(h).revisions[0]).toMatchObject({ pendingReplicas: 1, conditions: [{ type: 'ResourcesAvailable', status: 'False', reason: 'ReplicaBudgetExhausted' }] });
    expect(condition(h, 'ResourcesAvailable')).toMatchObject({ status: 'False', reason: 'ReplicaBudgetExhausted' });
    // Admitted: the deadline starts now.
    h.backend.pending.delete(k(R1));
    await h.controller.checkStarts();
    h.clock.advance(599_000);
    await h.controller.checkStarts();
    expect(condition(h, 'Ready')).toMatchObject({ status: 'Unknown' });
    h.clock.advance(1_000);
    await h.controller.checkStarts();
    expect(condition(h, 'Ready')).toMatchObject({ status: 'False', reason: 'RevisionFailed' });
  });

  it('replicas that exit before ready 3 times fail the revision: conditions say why, traffic stays, it is stopped', async () => {
    const h = controllerHarness();
    await servingV1(h);
    await h.controller.apply(isvc('iris', 'gs://m/v2', MIN0, ZERO), 'api');
    const reason = 'exited with code 9: node: bad option: --no-such-flag';
    h.backend.fail(k(R2), reason);
    h.backend.fail(k(R2), reason);
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({ status: 'Unknown', message: expect.stringContaining('2 of 3 allowed replicas exited before ready') });
    expect(h.snapshot.current.revisions.get(k(R2))?.failed).toBeNull();
    h.backend.fail(k(R2), reason);
    await Promise.resolve();
    const message = `revision ${R2} failed to become ready: 3 replicas exited before ready (limit 3); the last: ${reason}`;
    for (const type of ['PredictorReady', 'RoutesReady', 'Ready'])
      expect(condition(h, type)).toMatchObject({ status: 'False', reason: 'RevisionFailed', message: `${message}; traffic stays on ${R1}` });
    expect(status(h).components.predictor).toMatchObject({ latestCreatedRevision: R2, latestReadyRevision: R1, traffic: [{ revisionName: R1, percent: 100 }] });
    expect(dataPlane(h)).toEqual({ [R1]: 100 });
    // Stopped: the autoscaler forgets it and the backend goes to zero; the data plane answers it with 503.
    expect(h.autoscaler.status(k(R2))).toBeNull();
    expect(h.backend.desired.get(k(R2))).toBe(0);
    expect(h.snapshot.current.revisions.get(k(R2))?.failed).toBe(message);
    expect(status(h).revisions.find((r) => r.name === R2)).toMatchObject({ ready: false, failed: expect.stringContaining('3 replicas exited') });
    expect(status(h).events.at(-1)).toMatchObject({ type: 'Warning', reason: 'RevisionFailed', message });
  });

  it('a progressive rollout of a revision that fails ends rolled back', async () => {
    const h = controllerHarness();
    const policy = `${MIN0}    rollout:\n      steps: [10, 50]\n`;
    await h.controller.apply(isvc('iris', 'gs://m/v1', policy, ZERO), 'api');
    h.backend.markReady(k(R1));
    await h.controller.apply(isvc('iris', 'gs://m/v2', policy, ZERO), 'api');
    for (let i = 0; i < 3; i++) h.backend.fail(k(R2), 'exited with code 1');
    const st = (h.controller.get('default', 'iris') as unknown as { status: { rollout: Obj } }).status;
    expect(st.rollout).toMatchObject({ revision: R2, phase: 'RolledBack', message: expect.stringMatching(/^revision iris-predictor-00002 failed to become ready/) });
    expect(condition(h, 'RolloutSucceeded')).toMatchObject({ status: 'False', reason: 'RolledBack' });
    expect(dataPlane(h)).toEqual({ [R1]: 100 });
  });

  it('requests held for a revision when it fails are answered 503 with the reason at once', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', MIN0, ZERO), 'api');
    const held = h.activator.acquire(k(R1), { deadlineAt: h.clock.now() + 300_000, bytes: 0 });
    expect(held).toBeInstanceOf(Promise);
    const outcome = (held as Promise<unknown>).then(
      () => 'served',
      (err: { status?: number; message?: string }) => `${err.status}: ${err.message}`,
    );
    for (let i = 0; i < 3; i++) h.backend.fail(k(R1), 'exited with code 1');
    expect(await outcome).toBe(`503: revision ${R1} failed to become ready: 3 replicas exited before ready (limit 3); the last: exited with code 1`);
    // The first revision failed and nothing else is ready: not Ready, with the reason.
    expect(condition(h, 'Ready')).toMatchObject({ status: 'False', reason: 'RevisionFailed' });
  });

  it('a revision not ready within its progress deadline fails (fake clock); the limit of start failures is an annotation', async () => {
    const h = controllerHarness();
    const limits = { ...ZERO, 'serving.knative.dev/progress-deadline': '30s', 'sluice.dev/max-start-failures': '5' };
    await servingV1(h, limits);
    await h.controller.apply(isvc('iris', 'gs://m/v2', MIN0, limits), 'api');
    for (let i = 0; i < 4; i++) h.backend.fail(k(R2), 'exited with code 1');
    h.clock.advance(29_000);
    await h.controller.checkStarts();
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({ status: 'Unknown', message: expect.stringContaining('4 of 5 allowed') });
    h.clock.advance(1_000);
    await h.controller.checkStarts();
    expect(condition(h, 'PredictorReady')).toMatchObject({
      status: 'False',
      reason: 'RevisionFailed',
      message: `revision ${R2} failed to become ready: not ready within the progress deadline of 30s; the last replica: exited with code 1; traffic stays on ${R1}`,
    });
    expect(dataPlane(h)).toEqual({ [R1]: 100 });
  });

  it('after a failure, a fixed spec and the old good spec again each make a new revision that starts normally', async () => {
    const h = controllerHarness();
    await servingV1(h);
    await h.controller.apply(isvc('iris', 'gs://m/broken', MIN0, ZERO), 'api');
    for (let i = 0; i < 3; i++) h.backend.fail(k(R2), 'exited with code 1');
    await h.controller.apply(isvc('iris', 'gs://m/v1', MIN0, ZERO), 'api');
    expect(h.backend.desired.get(k(R3))).toBe(1);
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({ status: 'Unknown', reason: 'RevisionNotReady' });
    h.backend.markReady(k(R3));
    expect(dataPlane(h)).toEqual({ [R3]: 100 });
    expect(condition(h, 'Ready')).toMatchObject({ status: 'True' });
    expect(status(h).components.predictor).toMatchObject({ latestCreatedRevision: R3, latestReadyRevision: R3 });
  });

  it('a tag pinned to a failed revision routes to it (the gateway answers 503 from the snapshot)', async () => {
    const h = controllerHarness();
    await servingV1(h);
    await h.controller.apply(isvc('iris', 'gs://m/v2', MIN0, ZERO), 'api');
    await h.controller.updateTraffic('default', 'iris', { op: 'tag', tag: 'next', revision: R2 });
    for (let i = 0; i < 3; i++) h.backend.fail(k(R2), 'exited with code 1');
    const route = h.snapshot.current.routes.byName.get('default/iris')!;
    expect(route.targets.find((t) => t.tag === 'next')).toMatchObject({ revisionName: R2 });
    expect(h.snapshot.current.revisions.get(k(R2))?.failed).toMatch(/^revision iris-predictor-00002 failed to become ready/);
  });
});
