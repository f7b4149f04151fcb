import { describe, expect, it } from 'vitest';
import { controllerHarness, isvc } from '../test/support/controller-harness.js';

type Obj = Record<string, unknown>;
interface PredictorStatus {
  latestCreatedRevision?: string;
  latestReadyRevision?: string;
  latestRolledoutRevision?: string;
  previousRolledoutRevision?: string;
  traffic: Array<Obj>;
}

const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';
const R3 = 'iris-predictor-00003';
const CANARY_10 = '    canaryTrafficPercent: 10\n';
const CANARY_0 = '    canaryTrafficPercent: 0\n';

function predictor(h: ReturnType<typeof controllerHarness>): PredictorStatus {
  const obj = h.controller.get('default', 'iris') as unknown as { status: { components: { predictor: PredictorStatus & Obj } } };
  const { url: _url, ...rest } = obj.status.components.predictor;
  return rest;
}

function condition(h: ReturnType<typeof controllerHarness>, type: string): Obj | undefined {
  const obj = h.controller.get('default', 'iris') as unknown as { status: { conditions: Obj[] } };
  return obj.status.conditions.find((c) => c.type === type);
}

/** What the gateway routes on: revision → percent, summed. */
function dataPlane(h: ReturnType<typeof controllerHarness>): Record<string, number> {
  const route = h.snapshot.current.routes.byName.get('default/iris')!;
  const out: Record<string, number> = {};
  for (const t of route.targets) out[t.revisionName] = (out[t.revisionName] ?? 0) + t.percent;
  return out;
}

const latest = (revisionName: string, percent: number, tag?: string): Obj => ({
  ...(tag ? { tag } : {}),
  revisionName,
  latestRevision: true,
  percent,
  ...(tag ? { url: `http://${tag}-iris-predictor.default.example.com` } : {}),
});
const prev = (revisionName: string, percent: number): Obj => ({
  tag: 'prev',
  revisionName,
  latestRevision: false,
  percent,
  url: 'http://prev-iris-predictor.default.example.com',
});

describe("KServe's canary walkthrough, replayed through the controller", () => {
  it('deploy → canary 10 → promote → update with canary 10 → roll back with 0: status equals KServe at every step', async () => {
    const h = controllerHarness();
    // 1. Deploy v1. Until a replica is ready, Knative has no ready revision and the route has no traffic.
    await h.controller.apply(isvc('iris', 'gs://models/iris/v1'), 'api');
    expect(predictor(h)).toEqual({ latestCreatedRevision: R1, traffic: [] });
    expect(condition(h, 'Ready')).toMatchObject({ status: 'Unknown' });
    h.backend.markReady(`default/${R1}`);
    expect(predictor(h)).toEqual({ latestCreatedRevision: R1, latestReadyRevision: R1, latestRolledoutRevision: R1, traffic: [latest(R1, 100)] });
    expect(condition(h, 'Ready')).toMatchObject({ status: 'True' });

    // 2. Update the model with canaryTrafficPercent 10. While v2 starts, Knative resolves latestRevision to v1.
    await h.controller.apply(isvc('iris', 'gs://models/iris/v2', CANARY_10), 'api');
    expect(predictor(h)).toEqual({
      latestCreatedRevision: R2,
      latestReadyRevision: R1,
      latestRolledoutRevision: R1,
      traffic: [latest(R1, 10), prev(R1, 90)],
    });
    expect(dataPlane(h)).toEqual({ [R1]: 100 });
    h.backend.markReady(`default/${R2}`);
    expect(predictor(h)).toEqual({
      latestCreatedRevision: R2,
      latestReadyRevision: R2,
      latestRolledoutRevision: R1,
      traffic: [latest(R2, 10), prev(R1, 90)],
    });
    expect(dataPlane(h)).toEqual({ [R2]: 10, [R1]: 90 });

    // 3. Promote: remove canaryTrafficPercent.
    await h.controller.apply(isvc('iris', 'gs://models/iris/v2'), 'api');
    expect(predictor(h)).toEqual({
      latestCreatedRevision: R2,
      latestReadyRevision: R2,
      latestRolledoutRevision: R2,
      previousRolledoutRevision: R1,
      traffic: [latest(R2, 100)],
    });

    // 4. Update again, canary 10.
    await h.controller.apply(isvc('iris', 'gs://models/iris/v3', CANARY_10), 'api');
    h.backend.markReady(`default/${R3}`);
    expect(predictor(h)).toEqual({
      latestCreatedRevision: R3,
      latestReadyRevision: R3,
      latestRolledoutRevision: R2,
      previousRolledoutRevision: R1,
      traffic: [latest(R3, 10), prev(R2, 90)],
    });

    // 5. Roll back with canaryTrafficPercent 0: everything to the rolled-out revision; v3 keeps a 0 % target.
    await h.controller.apply(isvc('iris', 'gs://models/iris/v3', CANARY_0), 'api');
    expect(predictor(h)).toEqual({
      latestCreatedRevision: R3,
      latestReadyRevision: R3,
      latestRolledoutRevision: R2,
      previousRolledoutRevision: R1,
      traffic: [latest(R3, 0), prev(R2, 100)],
    });
    expect(dataPlane(h)).toEqual({ [R3]: 0, [R2]: 100 });
  });

  it('rolling back a promoted revision with canaryTrafficPercent 0 pins the previous one (both bookkeeping fields move as in KServe)', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://models/iris/v1'), 'api');
    h.backend.markReady(`default/${R1}`);
    await h.controller.apply(isvc('iris', 'gs://models/iris/v2'), 'api');
    h.backend.markReady(`default/${R2}`);
    expect(predictor(h)).toMatchObject({ latestRolledoutRevision: R2, previousRolledoutRevision: R1, traffic: [latest(R2, 100)] });
    await h.controller.apply(isvc('iris', 'gs://models/iris/v2', CANARY_0), 'api');
    expect(predictor(h)).toEqual({
      latestCreatedRevision: R2,
      latestReadyRevision: R2,
      latestRolledoutRevision: R1,
      previousRolledoutRevision: R1,
      traffic: [latest(R2, 0), prev(R1, 100)],
    });
    expect(dataPlane(h)).toEqual({ [R2]: 0, [R1]: 100 });
  });

  it('tags the latest target `latest` only with enable-tag-routing; `prev` always', async () => {
    const h = controllerHarness();
    const tags = { 'serving.kserve.io/enable-tag-routing': 'true' };
    await h.controller.apply(isvc('iris', 'gs://models/iris/v1', '', tags), 'api');
    h.backend.markReady(`default/${R1}`);
    expect(predictor(h).traffic).toEqual([latest(R1, 100, 'latest')]);
    await h.controller.apply(isvc('iris', 'gs://models/iris/v2', CANARY_10, tags), 'api');
    h.backend.markReady(`default/${R2}`);
    expect(predictor(h).traffic).toEqual([latest(R2, 10, 'latest'), prev(R1, 90)]);
    const byHost = h.snapshot.current.routes.byHost;
    expect(byHost.get('latest-iris-predictor.default.example.com')?.tag).toBe('latest');
    expect(byHost.get('prev-iris.default.example.com')?.tag).toBe('prev');
  });

  it('a canary that never becomes ready never gets its share, and a condition says why', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://models/iris/v1'), 'api');
    h.backend.markReady(`default/${R1}`);
    await h.controller.apply(isvc('iris', 'gs://models/iris/broken', CANARY_10), 'api');
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({
      status: 'Unknown',
      reason: 'RevisionNotReady',
      message: `revision ${R2} is not ready; its share stays on ${R1}`,
    });
    // One replica that exits before ready is a try, not yet a failure (3 are allowed by default).
    h.backend.fail(`default/${R2}`, 'exited with code 1');
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({
      status: 'Unknown',
      message: `revision ${R2} is not ready; its share stays on ${R1}; 1 of 3 allowed replicas exited before ready; the last: exited with code 1`,
    });
    h.backend.fail(`default/${R2}`, 'exited with code 1');
    h.backend.fail(`default/${R2}`, 'exited with code 1');
    h.clock.advance(60_000);
    expect(dataPlane(h)).toEqual({ [R1]: 100 });
    expect(predictor(h)).toMatchObject({ latestReadyRevision: R1, latestRolledoutRevision: R1, traffic: [latest(R1, 10), prev(R1, 90)] });
    expect(condition(h, 'PredictorConfigurationReady')).toMatchObject({
      status: 'False',
      reason: 'RevisionFailed',
      message: `revision ${R2} failed to become ready: 3 replicas exited before ready (limit 3); the last: exited with code 1; traffic stays on ${R1}`,
    });
    expect(condition(h, 'Ready')).toMatchObject({ status: 'False' });
  });
});
