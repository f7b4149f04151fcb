import { describe, expect, it } from 'vitest';
import type { InferenceService } from '../api/inferenceservice.js';
import { matchRoute } from '../gateway/route-table.js';
import { controllerHarness, isvc } from '../test/support/controller-harness.js';

/** iris with a transformer (and optionally an explainer); `image` changes make new revisions. */
function chained(o: { transformer?: string; canary?: number; explainer?: boolean; annotations?: Record<string, string> } = {}): InferenceService {
  const base = isvc('iris', 'gs://m/v1', '    minReplicas: 0\n', { 'autoscaling.knative.dev/initial-scale': '0', ...o.annotations });
  return {
    ...base,
    spec: {
      ...base.spec,
      transformer: {
        containers: [{ name: 'kserve-container', image: o.transformer ?? 'me/t:1', args: [], env: [], resources: { requests: {}, limits: {} } }],
        ...(o.canary === undefined ? {} : { canaryTrafficPercent: o.canary }),
      },
      ...(o.explainer ? { explainer: { containers: [{ name: 'kserve-container', image: 'me/e:1', args: [], env: [], resources: { requests: {}, limits: {} } }] } } : {}),
    },
  } as InferenceService;
}

type Status = { status: { components: Record<string, { traffic: Array<{ revisionName: string; percent: number }>; latestCreatedRevision?: string }>; conditions: Array<{ type: string; status: string }>; revisions: Array<{ name: string; component: string }> } };

describe('transformer and explainer components', () => {
  it('makes a revision per component; a transformer change makes only a transformer revision with its own canary', async () => {
    const h = controllerHarness();
    await h.controller.apply(chained({ explainer: true }), 'api');
    expect(h.controller.revisionsOf('default', 'iris')!.map((r) => r.name)).toEqual(['iris-predictor-00001', 'iris-transformer-00001', 'iris-explainer-00001']);
    for (const r of ['iris-predictor-00001', 'iris-transformer-00001', 'iris-explainer-00001']) h.backend.markReady(`default/${r}`);
    const second = await h.controller.apply(chained({ transformer: 'me/t:2', canary: 25, explainer: true }), 'api');
    expect(second.newRevision).toBeNull(); // the predictor's
    expect(h.controller.revisionsOf('default', 'iris')!.map((r) => r.name)).toContain('iris-transformer-00002');
    h.backend.markReady('default/iris-transformer-00002');
    const s = h.controller.get('default', 'iris') as unknown as Status;
    expect(s.status.components.transformer!.traffic.map((t) => [t.revisionName, t.percent])).toEqual([
      ['iris-transformer-00002', 25],
      ['iris-transformer-00001', 75],
    ]);
    expect(s.status.components.predictor!.traffic.map((t) => [t.revisionName, t.percent])).toEqual([['iris-predictor-00001', 100]]);
    expect(s.status.revisions.find((r) => r.name === 'iris-explainer-00001')?.component).toBe('explainer');
    expect(s.status.conditions.filter((c) => ['TransformerReady', 'ExplainerReady', 'Ready'].includes(c.type)).map((c) => c.status)).toEqual(['True', 'True', 'True']);
    // The data plane: service host → transformer (split), :explain → explainer, -predictor → predictor.
    const table = h.snapshot.current.routes;
    expect(matchRoute(table, 'iris.default.example.com', '/v1/models/iris:predict')?.route.targets.map((t) => t.percent)).toEqual([25, 75]);
    expect(matchRoute(table, 'iris.default.example.com', '/v1/models/iris:explain')?.route.component).toBe('explainer');
    expect(matchRoute(table, 'iris-predictor.default.example.com', '/v1/models/iris:predict')?.route.component).toBeUndefined();
  });

  it('wakes the predictor with a transformer woken from zero, unless told not to', async () => {
    const h = controllerHarness();
    await h.controller.apply(chained(), 'api');
    expect(h.controller.wakeWith('default/iris-transformer-00001')).toEqual(['default/iris-predictor-00001']);
    expect(h.controller.wakeWith('default/iris-predictor-00001')).toEqual([]);
    await h.controller.apply(chained({ annotations: { 'autoscaling.sluice.dev/wake-predictor': 'false' } }), 'api');
    const t = h.controller.revisionsOf('default', 'iris')!.filter((r) => r.component === 'transformer').at(-1)!;
    expect(h.controller.wakeWith(`default/${t.name}`)).toEqual([]);
  });

  it('removing the transformer deletes its revisions and the service URL reaches the predictor again', async () => {
    const h = controllerHarness();
    await h.controller.apply(chained(), 'api');
    h.backend.markReady('default/iris-predictor-00001');
    await h.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 0\n', { 'autoscaling.knative.dev/initial-scale': '0' }), 'api');
    expect(h.backend.removed).toContain('default/iris-transformer-00001');
    expect(h.controller.revisionsOf('default', 'iris')!.map((r) => r.name)).toEqual(['iris-predictor-00001']);
    expect(matchRoute(h.snapshot.current.routes, 'iris.default.example.com', '/v1/models/iris:predict')?.route.component).toBeUndefined();
  });
});

type Traffic = Array<[string, number]>;
const trafficOf = (h: ReturnType<typeof controllerHarness>, component: string): Traffic =>
  (h.controller.get('default', 'iris') as unknown as Status).status.components[component]!.traffic.map((t) => [t.revisionName, t.percent]);

/** A transformer with two ready revisions (the first rolled out), and one predictor revision. */
async function twoTransformerRevisions(extra: Record<string, unknown> = {}): Promise<ReturnType<typeof controllerHarness>> {
  const h = controllerHarness();
  await h.controller.apply(chained(), 'api');
  h.backend.markReady('default/iris-predictor-00001');
  h.backend.markReady('default/iris-transformer-00001');
  const next = chained({ transformer: 'me/t:2' });
  Object.assign(next.spec.transformer!, extra);
  await h.controller.apply(next, 'api');
  h.backend.markReady('default/iris-transformer-00002');
  return h;
}

async function refusal(p: Promise<unknown>): Promise<{ status?: number; message: string }> {
  try {
    await p;
  } catch (err) {
    return { status: (err as { status?: number }).status, message: (err as Error).message };
  }
  throw new Error('expected a refusal');
}

describe('traffic commands and policies per component', () => {
  it('a canary, a rollback and a promote of the transformer leave the predictor at 100 %', async () => {
    const h = await twoTransformerRevisions({ canaryTrafficPercent: 0 });
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00002', 0], ['iris-transformer-00001', 100]]);
    await h.controller.updateTraffic('default', 'iris', { op: 'canary', percent: 10 }, 'transformer');
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00002', 10], ['iris-transformer-00001', 90]]);
    expect(trafficOf(h, 'predictor')).toEqual([['iris-predictor-00001', 100]]);
    expect(h.controller.get('default', 'iris')!.spec.transformer!.canaryTrafficPercent).toBe(10);
    expect(h.controller.get('default', 'iris')!.spec.predictor.canaryTrafficPercent).toBeUndefined();
    await h.controller.updateTraffic('default', 'iris', { op: 'promote' }, 'transformer');
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00002', 100]]);
    await h.controller.updateTraffic('default', 'iris', { op: 'rollback' }, 'transformer');
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00002', 0], ['iris-transformer-00001', 100]]);
    expect(trafficOf(h, 'predictor')).toEqual([['iris-predictor-00001', 100]]);
    // The predictor has one revision: nothing to roll back to, and the message says whose.
    expect(await refusal(h.controller.updateTraffic('default', 'iris', { op: 'rollback' }))).toEqual({
      status: 409,
      message: 'nothing to roll back to: default/iris has no earlier rolled-out revision',
    });
  });

  it('an explicit split names only the component’s own revisions; a missing component is a 404', async () => {
    const h = await twoTransformerRevisions();
    await h.controller.updateTraffic('default', 'iris', { op: 'to-revisions', split: { 'iris-transformer-00001': 90, 'iris-transformer-00002': 10 } }, 'transformer');
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00001', 90], ['iris-transformer-00002', 10]]);
    expect(await refusal(h.controller.updateTraffic('default', 'iris', { op: 'to-revisions', split: { 'iris-predictor-00001': 100 } }, 'transformer'))).toEqual({
      status: 422,
      message: 'transformer revision "iris-predictor-00001" does not exist; the transformer\'s revisions: iris-transformer-00001, iris-transformer-00002 (or LATEST)',
    });
    expect(await refusal(h.controller.updateTraffic('default', 'iris', { op: 'promote' }, 'explainer'))).toEqual({
      status: 404,
      message: 'inferenceservices "iris" has no explainer (spec.explainer is not set)',
    });
    // A tag on a transformer revision reaches it on the transformer's hosts.
    await h.controller.updateTraffic('default', 'iris', { op: 'tag', tag: 'old', revision: 'iris-transformer-00001' }, 'transformer');
    expect(matchRoute(h.snapshot.current.routes, 'old-iris-transformer.default.example.com', '/v1/models/iris:predict')?.route.targets.find((t) => t.tag === 'old')?.revisionName).toBe(
      'iris-transformer-00001',
    );
  });

  it('validates the spec’s per-component traffic with errors naming the field path', async () => {
    const h = await twoTransformerRevisions();
    const both = chained({ transformer: 'me/t:2', canary: 10 });
    (both.spec.transformer as Record<string, unknown>).traffic = [{ revisionName: 'iris-transformer-00001', percent: 100 }];
    const raw = JSON.parse(JSON.stringify(both)) as unknown;
    const { parseInferenceService } = await import('../api/inferenceservice.js');
    expect(() => parseInferenceService(raw)).toThrow(/spec\.transformer\.traffic: an explicit split cannot be combined with canaryTrafficPercent/);
    const wrong = chained({ transformer: 'me/t:2' });
    (wrong.spec.transformer as Record<string, unknown>).traffic = [{ revisionName: 'iris-predictor-00001', percent: 100 }];
    const err = await refusal(h.controller.apply(wrong, 'api'));
    expect(err.message).toMatch(/spec\.transformer\.traffic\[0\]\.revisionName: transformer revision "iris-predictor-00001" does not exist; its revisions: iris-transformer-00001, iris-transformer-00002/);
  });

  it('a rollout policy on the transformer steps its canary and rolls back on its own evidence', async () => {
    const stats = new Map<string, { requests: number; errors: number; p99Ms: number | null }>();
    const h = controllerHarness({ outcomes: { stats: (key) => stats.get(key) ?? { requests: 0, errors: 0, p99Ms: null } } });
    const policy = { steps: [20, 60], dwellSeconds: 10, maxErrorRateDelta: 0.05, maxP99Ratio: 1.5, minRequests: 10 };
    const withPolicy = (image: string): InferenceService => {
      const o = chained({ transformer: image });
      (o.spec.transformer as Record<string, unknown>).rollout = policy;
      return o;
    };
    await h.controller.apply(withPolicy('me/t:1'), 'api');
    h.backend.markReady('default/iris-predictor-00001');
    h.backend.markReady('default/iris-transformer-00001');
    await h.controller.apply(withPolicy('me/t:2'), 'api');
    h.backend.markReady('default/iris-transformer-00002');
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00002', 20], ['iris-transformer-00001', 80]]);
    stats.set('default/iris-transformer-00002', { requests: 20, errors: 0, p99Ms: 5 });
    stats.set('default/iris-transformer-00001', { requests: 80, errors: 0, p99Ms: 5 });
    h.clock.advance(11_000);
    await h.controller.evaluateRollouts();
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00002', 60], ['iris-transformer-00001', 40]]);
    stats.set('default/iris-transformer-00002', { requests: 20, errors: 10, p99Ms: 5 });
    await h.controller.evaluateRollouts();
    expect(trafficOf(h, 'transformer')).toEqual([['iris-transformer-00002', 0], ['iris-transformer-00001', 100]]);
    expect(trafficOf(h, 'predictor')).toEqual([['iris-predictor-00001', 100]]);
    const s = h.controller.get('default', 'iris') as unknown as { status: Status['status'] & { rollout?: unknown; components: Record<string, { rollout?: { phase: string } }> } };
    expect(s.status.components.transformer!.rollout).toMatchObject({ phase: 'RolledBack', revision: 'iris-transformer-00002', stable: 'iris-transformer-00001' });
    expect(s.status.rollout).toBeUndefined();
    expect(s.status.conditions.find((c) => c.type === 'TransformerRolloutSucceeded')).toMatchObject({ status: 'False' });
  });
});
