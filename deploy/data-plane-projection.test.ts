import { describe, expect, it } from 'vitest';
import type { InferenceService } from '../api/inferenceservice.js';
import type { Revision } from '../api/revision.js';
import { testRevision } from '../autoscaler/testing/revision.js';
import { buildRouteTable, matchRoute } from '../gateway/route-table.js';
import { prune } from '../test/kube-apiserver/crd-schema.js';
import { controllerHarness, isvc, type Harness } from '../test/support/controller-harness.js';
import { projectDataPlane, type ServiceRouting } from './data-plane-projection.js';
import { serviceRoutingOf } from './kubernetes/service-routing.js';
import { servingCrds } from './manifests/crd-source.js';

const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';
const k = (rev: string): string => `default/${rev}`;
const ISVC_SCHEMA = (servingCrds()[0]!.object as { spec: { versions: Array<{ schema: { openAPIV3Schema: unknown } }> } }).spec.versions[0]!.schema.openAPIV3Schema;
const rev = (name: string): Revision => ({ ...testRevision({ name }), modelName: 'iris', runtimeModelName: 'iris' });

function service(over: Partial<ServiceRouting> = {}): ServiceRouting {
  return { namespace: 'default', name: 'iris', annotations: {}, traffic: [], latestCreated: R1, specTags: [], failed: new Map(), proven: new Set(), ...over };
}

describe('projectDataPlane: services and revisions → routes and revision views', () => {
  it('routes the predictor host and its tag prefixes, with stickiness from the annotations', () => {
    const p = projectDataPlane(
      [
        service({
          annotations: { 'sluice.dev/sticky-header': 'X-User', 'sluice.dev/sticky-cookie': 'uid' },
          traffic: [
            { revisionName: R2, percent: 20, tag: 'latest', latestRevision: true },
            { revisionName: R1, percent: 80, tag: 'prev', latestRevision: false },
          ],
          latestCreated: R2,
        }),
      ],
      [rev(R1), rev(R2)],
      'example.com',
    );
    expect(p.routes).toEqual([
      {
        namespace: 'default',
        service: 'iris',
        modelName: 'iris',
        hosts: ['iris-predictor.default.example.com'],
        sticky: { header: 'x-user', cookie: 'uid' },
        targets: [
          { revisionKey: k(R2), revisionName: R2, percent: 20, tag: 'latest', latestRevision: true },
          { revisionKey: k(R1), revisionName: R1, percent: 80, tag: 'prev', latestRevision: false },
        ],
      },
    ]);
    const table = buildRouteTable(p.routes, 'example.com', 1);
    expect(matchRoute(table, 'iris-predictor.default.example.com', '/v1/models/iris:predict')?.tag).toBeNull();
    expect(matchRoute(table, 'prev-iris-predictor.default.example.com:8080', '/')?.tag).toBe('prev');
    expect([...p.revisions.keys()]).toEqual([k(R1), k(R2)]);
  });

  it('before any revision is ready: the latest created at 100 % and the tags the spec pins', () => {
    const p = projectDataPlane([service({ latestCreated: R2, specTags: [{ revisionName: R1, tag: 'old' }] })], [rev(R1), rev(R2)], 'example.com');
    expect(p.routes[0]!.targets).toEqual([
      { revisionKey: k(R2), revisionName: R2, percent: 100, tag: null, latestRevision: true },
      { revisionKey: k(R1), revisionName: R1, percent: 0, tag: 'old', latestRevision: false },
    ]);
    expect(p.routes[0]!.sticky).toBeUndefined();
  });

  it('a failed revision carries its message, a proven one says so; others carry null and false', () => {
    const p = projectDataPlane(
      [service({ latestCreated: R2, failed: new Map([[R2, 'exited with code 1']]), proven: new Set([R1]) })],
      [rev(R1), rev(R2)],
      'example.com',
    );
    expect(p.revisions.get(k(R2))).toMatchObject({ failed: `revision ${R2} failed to become ready: exited with code 1`, proven: false });
    expect(p.revisions.get(k(R1))).toMatchObject({ failed: null, proven: true });
  });

  it('leaves out targets whose revision is unknown, and a service with nothing routable', () => {
    const split = [
      { revisionName: R2, percent: 30, tag: null, latestRevision: true },
      { revisionName: R1, percent: 70, tag: null, latestRevision: false },
    ];
    const p = projectDataPlane([service({ traffic: split, latestCreated: R2 }), service({ name: 'other', latestCreated: 'other-predictor-00001' })], [rev(R1)], 'example.com');
    expect(p.routes.map((r) => r.service)).toEqual(['iris']);
    expect(p.routes[0]!.targets.map((t) => t.revisionName)).toEqual([R1]);
  });
});

/**
 * Both modes, the same input: what the embedded controller routes from its records equals what the cluster gateway
 * routes from the same service's stored object (spec + the status the cluster controller writes back).
 */
describe('the embedded controller and the cluster gateway build the same data plane', () => {
  /** The object as the API server stores it: pruned to the CRD's schema, as status written back is. */
  function fromStoredObject(h: Harness): ReturnType<typeof projectDataPlane> {
    const stored = JSON.parse(JSON.stringify(h.controller.get('default', 'iris'))) as Parameters<typeof serviceRoutingOf>[0];
    prune(stored, ISVC_SCHEMA);
    return projectDataPlane([serviceRoutingOf(stored)], h.controller.revisionsOf('default', 'iris') ?? [], 'example.com');
  }
  function embedded(h: Harness): { routes: unknown[]; revisions: unknown } {
    const snap = h.snapshot.current;
    return { routes: [...snap.routes.routes.values()], revisions: snap.revisions };
  }
  const STICKY = { 'sluice.dev/sticky-header': 'x-user', 'autoscaling.knative.dev/initial-scale': '0' };

  it('before ready, with a pinned tag and stickiness', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 0\n', STICKY), 'api');
    await h.controller.apply(isvc('iris', 'gs://m/v2', `    minReplicas: 0\n    traffic:\n      - revisionName: ${R1}\n        tag: first\n        percent: 0\n`, STICKY), 'api');
    const cluster = fromStoredObject(h);
    expect(cluster).toEqual(embedded(h));
    expect(cluster.routes[0]).toMatchObject({ hosts: ['iris-predictor.default.example.com'], sticky: { header: 'x-user' } });
    expect(cluster.routes[0]!.targets.map((t) => [t.revisionName, t.percent, t.tag])).toEqual([
      [R2, 100, null],
      [R1, 0, 'first'],
    ]);
  });

  it('a canary split with tag routing', async () => {
    const h = controllerHarness();
    const annotations = { ...STICKY, 'serving.kserve.io/enable-tag-routing': 'true' };
    await h.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 0\n', annotations), 'api');
    h.backend.markReady(k(R1));
    await h.controller.apply(isvc('iris', 'gs://m/v2', '    minReplicas: 0\n    canaryTrafficPercent: 25\n', annotations), 'api');
    h.backend.markReady(k(R2));
    const cluster = fromStoredObject(h);
    expect(cluster).toEqual(embedded(h));
    expect(cluster.routes[0]!.targets.map((t) => [t.revisionName, t.percent, t.tag])).toEqual([
      [R2, 25, 'latest'],
      [R1, 75, 'prev'],
    ]);
  });

  it('a failed revision', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 0\n', STICKY), 'api');
    h.backend.markReady(k(R1));
    await h.controller.apply(isvc('iris', 'gs://m/v2', '    minReplicas: 0\n', STICKY), 'api');
    for (let i = 0; i < 3; i++) h.backend.fail(k(R2), 'exited with code 1');
    await Promise.resolve();
    const cluster = fromStoredObject(h);
    expect(cluster).toEqual(embedded(h));
    expect(cluster.revisions.get(k(R2))?.failed).toMatch(/^revision iris-predictor-00002 failed to become ready: 3 replicas exited/);
    // A later revision becomes ready: the failed one below it has still never been ready, in both modes.
    await h.controller.apply(isvc('iris', 'gs://m/v3', '    minReplicas: 0\n', STICKY), 'api');
    h.backend.markReady(k('iris-predictor-00003'));
    const after = fromStoredObject(h);
    expect(after).toEqual(embedded(h));
    expect([R1, R2, 'iris-predictor-00003'].map((r) => after.revisions.get(k(r))?.proven)).toEqual([true, false, true]);
  });

  it('a transformer with its own canary and an explainer', async () => {
    const h = controllerHarness();
    const custom = (image: string) => ({ containers: [{ name: 'kserve-container', image, args: [], env: [], resources: { requests: {}, limits: {} } }] });
    const withChain = (transformerImage: string, canary?: number): InferenceService => {
      const base = isvc('iris', 'gs://m/v1', '    minReplicas: 0\n', STICKY);
      const transformer = { ...custom(transformerImage), ...(canary === undefined ? {} : { canaryTrafficPercent: canary }) };
      return { ...base, spec: { ...base.spec, transformer, explainer: custom('me/e:1') } } as InferenceService;
    };
    await h.controller.apply(withChain('me/t:1'), 'api');
    for (const r of [R1, 'iris-transformer-00001', 'iris-explainer-00001']) h.backend.markReady(k(r));
    await h.controller.apply(withChain('me/t:2', 40), 'api');
    h.backend.markReady(k('iris-transformer-00002'));
    const cluster = fromStoredObject(h);
    expect(cluster).toEqual(embedded(h));
    expect(cluster.routes.map((r) => [r.component ?? 'predictor', r.entry ?? true, r.hosts[0], r.targets.map((t) => `${t.revisionName}=${t.percent}`)])).toEqual([
      ['predictor', false, 'iris-predictor.default.example.com', [`${R1}=100`]],
      ['transformer', true, 'iris-transformer.default.example.com', ['iris-transformer-00002=40', 'iris-transformer-00001=60']],
      ['explainer', false, 'iris-explainer.default.example.com', ['iris-explainer-00001=100']],
    ]);
  });
});

