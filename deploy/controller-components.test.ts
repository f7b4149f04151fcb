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
