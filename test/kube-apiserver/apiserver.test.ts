import {
  ApiException,
  ApisApi,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  loadAllYaml,
  makeInformer,
  Metrics,
  V1MicroTime,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Deployment,
  type V1ConfigMap,
} from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestApiServer, type TestApiServer } from './index.js';
import { waitUntil } from '../support/wait.js';

function deployment(name: string, replicas?: number, labels: Record<string, string> = { app: name }): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'example/runtime:1' }] } },
    },
  };
}

async function expectStatus(p: Promise<unknown>, code: number, reason?: string): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApiException);
    const e = err as ApiException<string>;
    expect(e.code).toBe(code);
    const body = JSON.parse(e.body) as Record<string, unknown>;
    expect(body['kind']).toBe('Status');
    if (reason) expect(body['reason']).toBe(reason);
    return body;
  }
  throw new Error(`expected HTTP ${code}, but the call succeeded`);
}

/** waitUntil, polling every 10 ms, with `null` also meaning "not yet". */
function until<T>(probe: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
  return waitUntil('condition', () => probe() ?? undefined, timeoutMs, 10);
}

describe('test kube-apiserver with @kubernetes/client-node', () => {
  let server: TestApiServer;
  let kc: KubeConfig;

  beforeEach(async () => {
    server = await startTestApiServer({ kubelet: false, bookmarkIntervalMs: 50 });
    kc = new KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
  });
  afterEach(async () => {
    await server.close();
  });

  it('serves discovery for core, apps and the serving groups', async () => {
    const groups = await kc.makeApiClient(ApisApi).getAPIVersions();
    const names = groups.groups.map((g) => g.name);
    expect(names).toEqual(expect.arrayContaining(['apps', 'discovery.k8s.io', 'coordination.k8s.io', 'serving.sluice.dev', 'serving.kserve.io']));
    const apps = await kc.makeApiClient(AppsV1Api).getAPIResources();
    expect(apps.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['deployments', 'deployments/scale', 'deployments/status']));
    const core = await kc.makeApiClient(CoreV1Api).getAPIResources();
    expect(core.resources.map((r) => r.name)).toEqual(expect.arrayContaining(['pods', 'services', 'namespaces', 'configmaps', 'nodes']));
  });

  it('rejects requests without the kubeconfig token', async () => {
    const res = await fetch(`${server.url}/api/v1/namespaces`);
    expect(res.status).toBe(401);
  });

  it('creates, reads, lists by label, replaces and deletes deployments', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const created = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('iris', 0, { app: 'iris', tier: 'model' }) });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.generation).toBe(1);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('other', 0, { app: 'other', tier: 'web' }) });
    await expectStatus(apps.createNamespacedDeployment({ namespace: 'default', body: deployment('iris', 0) }), 409, 'AlreadyExists');

    const byLabel = await apps.listNamespacedDeployment({ namespace: 'default', labelSelector: 'tier=model' });
    expect(byLabel.items.map((d) => d.metadata?.name)).toEqual(['iris']);
    const notIn = await apps.listNamespacedDeployment({ namespace: 'default', labelSelector: 'tier notin (model),app' });
    expect(notIn.items.map((d) => d.metadata?.name)).toEqual(['other']);
    const byName = await apps.listDeploymentForAllNamespaces({ fieldSelector: 'metadata.name=other' });
    expect(byName.items.map((d) => d.metadata?.name)).toEqual(['other']);
    expect(Number(byName.metadata?.resourceVersion)).toBeGreaterThan(0);

    const read = await apps.readNamespacedDeployment({ name: 'iris', namespace: 'default' });
    read.spec!.template.spec!.containers[0]!.image = 'example/runtime:2';
    const replaced = await apps.replaceNamespacedDeployment({ name: 'iris', namespace: 'default', body: read });
    expect(replaced.metadata?.generation).toBe(2);
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));

    await apps.deleteNamespacedDeployment({ name: 'iris', namespace: 'default' });
    await expectStatus(apps.readNamespacedDeployment({ name: 'iris', namespace: 'default' }), 404, 'NotFound');
  });

  it('defaults replicas to 1 and rejects a selector that does not match the template', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const d = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('defaults') });
    expect(d.spec?.replicas).toBe(1);
    const bad = deployment('bad', 0);
    bad.spec!.selector.matchLabels = { app: 'different' };
    await expectStatus(apps.createNamespacedDeployment({ namespace: 'default', body: bad }), 422, 'Invalid');
    await expectStatus(apps.createNamespacedDeployment({ namespace: 'missing', body: deployment('x', 0) }), 404, 'NotFound');
  });

  it('answers 409 Conflict to an update carrying a stale resourceVersion', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const cm: V1ConfigMap = { metadata: { name: 'cfg' }, data: { a: '1' } };
    const v1 = await core.createNamespacedConfigMap({ namespace: 'default', body: cm });
    const v2 = await core.replaceNamespacedConfigMap({ name: 'cfg', namespace: 'default', body: { ...v1, data: { a: '2' } } });
    const body = await expectStatus(core.replaceNamespacedConfigMap({ name: 'cfg', namespace: 'default', body: { ...v1, data: { a: '3' } } }), 409, 'Conflict');
    expect(String(body['message'])).toContain('the object has been modified');
    const now = await core.readNamespacedConfigMap({ name: 'cfg', namespace: 'default' });
    expect(now.data).toEqual({ a: '2' });
    expect(now.metadata?.resourceVersion).toBe(v2.metadata?.resourceVersion);
  });

  it('reads and writes the scale subresource, which bumps generation but not the rest of the spec', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('iris', 0) });
    const scale = await apps.readNamespacedDeploymentScale({ name: 'iris', namespace: 'default' });
    expect(scale.kind).toBe('Scale');
    expect(scale.spec?.replicas).toBe(0);
    expect(scale.status?.selector).toBe('app=iris');
    const written = await apps.replaceNamespacedDeploymentScale({ name: 'iris', namespace: 'default', body: { metadata: { name: 'iris', namespace: 'default' }, spec: { replicas: 3 } } });
    expect(written.spec?.replicas).toBe(3);
    await expectStatus(
      apps.replaceNamespacedDeploymentScale({ name: 'iris', namespace: 'default', body: { metadata: { name: 'iris', resourceVersion: scale.metadata!.resourceVersion! }, spec: { replicas: 5 } } }),
      409,
      'Conflict',
    );
    await apps.patchNamespacedDeploymentScale(
      { name: 'iris', namespace: 'default', body: { spec: { replicas: 2 } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await apps.patchNamespacedDeploymentScale({ name: 'iris', namespace: 'default', body: [{ op: 'replace', path: '/spec/replicas', value: 4 }] });
    const d = await apps.readNamespacedDeployment({ name: 'iris', namespace: 'default' });
    expect(d.spec?.replicas).toBe(4);
    expect(d.metadata?.generation).toBe(4);
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('example/runtime:1');
  });

  it('keeps status out of main-resource writes and spec out of status writes', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    const d = await apps.createNamespacedDeployment({ namespace: 'default', body: deployment('iris', 0) });
    await apps.replaceNamespacedDeploymentStatus({ name: 'iris', namespace: 'default', body: { ...d, spec: { ...d.spec!, replicas: 9 }, status: { readyReplicas: 7 } } });
    const after = await apps.readNamespacedDeployment({ name: 'iris', namespace: 'default' });
    expect(after.status?.readyReplicas).toBe(7);
    expect(after.spec?.replicas).toBe(0);
    expect(after.metadata?.generation).toBe(1);
    await apps.replaceNamespacedDeployment({ name: 'iris', namespace: 'default', body: { ...after, status: { readyReplicas: 1 } } });
    const again = await apps.readNamespacedDeployment({ name: 'iris', namespace: 'default' });
    expect(again.status?.readyReplicas).toBe(7);
  });

  it('serves InferenceServices as custom objects with a status subresource and merge patches', async () => {
    const co = kc.makeApiClient(CustomObjectsApi);
    const isvc = {
      apiVersion: 'serving.sluice.dev/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'iris', namespace: 'default' },
      spec: { predictor: { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://x/iris' } } },
      status: { url: 'ignored-on-create' },
    };
    const base = { group: 'serving.sluice.dev', version: 'v1beta1', namespace: 'default', plural: 'inferenceservices' };
    const created = (await co.createNamespacedCustomObject({ ...base, body: isvc })) as typeof isvc & { metadata: { generation: number } };
    expect(created.status).toBeUndefined();
    await co.replaceNamespacedCustomObjectStatus({ ...base, name: 'iris', body: { ...created, status: { url: 'http://iris.default.example.com' } } });
    const patched = (await co.patchNamespacedCustomObject(
      { ...base, name: 'iris', body: { spec: { predictor: { minReplicas: 1 } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { metadata: { generation: number }; spec: { predictor: Record<string, unknown> }; status: { url: string } };
    expect(patched.metadata.generation).toBe(2);
    expect(patched.spec.predictor['minReplicas']).toBe(1);
    expect(patched.spec.predictor['model']).toBeDefined();
    expect(patched.status.url).toBe('http://iris.default.example.com');
    const list = (await co.listNamespacedCustomObject({ ...base })) as { items: unknown[] };
    expect(list.items).toHaveLength(1);
    const kserve = (await co.listClusterCustomObject({ group: 'serving.kserve.io', version: 'v1alpha1', plural: 'clusterservingruntimes' })) as { items: unknown[] };
    expect(kserve.items).toEqual([]);
  });

  it('honours finalizers and cascades deletion to owned objects', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const owner = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'owner', finalizers: ['sluice.dev/cleanup'] } } });
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'child', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata!.uid! }] } },
    });
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace: 'default' });
    const pending = await core.readNamespacedConfigMap({ name: 'owner', namespace: 'default' });
    expect(pending.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    await core.readNamespacedConfigMap({ name: 'child', namespace: 'default' });
    await core.replaceNamespacedConfigMap({ name: 'owner', namespace: 'default', body: { ...pending, metadata: { ...pending.metadata, finalizers: [] } } });
    await expectStatus(core.readNamespacedConfigMap({ name: 'owner', namespace: 'default' }), 404);
    await expectStatus(core.readNamespacedConfigMap({ name: 'child', namespace: 'default' }), 404);
  });

  it('streams ADDED, MODIFIED, DELETED and BOOKMARK events to a watch, resuming from a resourceVersion', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const first = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'a', labels: { w: 'yes' } } } });
    const events: { type: string; name: string | undefined }[] = [];
    const done: unknown[] = [];
    const watch = new Watch(kc);
    const ctrl = await watch.watch(
      '/api/v1/namespaces/default/configmaps',
      { resourceVersion: first.metadata!.resourceVersion, allowWatchBookmarks: true, labelSelector: 'w=yes' },
      (type, obj: { metadata?: { name?: string } }) => events.push({ type, name: obj.metadata?.name }),
      (err) => done.push(err),
    );
    await core.replaceNamespacedConfigMap({ name: 'a', namespace: 'default', body: { metadata: { name: 'a', labels: { w: 'yes' } }, data: { k: 'v' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'unlabelled' } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'b', labels: { w: 'yes' } } } });
    await core.replaceNamespacedConfigMap({ name: 'b', namespace: 'default', body: { metadata: { name: 'b', labels: { w: 'no' } } } });
    await core.deleteNamespacedConfigMap({ name: 'a', namespace: 'default' });
    await until(() => events.some((e) => e.type === 'BOOKMARK') && events.filter((e) => e.type !== 'BOOKMARK').length >= 4);
    expect(events.filter((e) => e.type !== 'BOOKMARK')).toEqual([
      { type: 'MODIFIED', name: 'a' },
      { type: 'ADDED', name: 'b' },
      { type: 'DELETED', name: 'b' },
      { type: 'DELETED', name: 'a' },
    ]);
    // The watch stayed open through every event: it ends only when we abort it.
    expect(done).toEqual([]);
    ctrl.abort();
    await until(() => done.length > 0);
    expect(done).toHaveLength(1);
  });

  it('answers a watch from a compacted resourceVersion with ERROR 410, and an informer relists and recovers', async () => {
    const small = await startTestApiServer({ kubelet: false, historySize: 3 });
    try {
      const kc2 = new KubeConfig();
      kc2.loadFromFile(small.kubeconfigPath);
      const core = kc2.makeApiClient(CoreV1Api);
      const first = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c0' } } });
      for (let i = 1; i <= 5; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `c${i}` } } });
      const events: { type: string; code?: number }[] = [];
      let ended = false;
      await new Watch(kc2).watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: first.metadata!.resourceVersion },
        (type, obj: { code?: number }) => events.push({ type, code: obj.code }),
        () => (ended = true),
      );
      await until(() => ended);
      expect(events).toEqual([{ type: 'ERROR', code: 410 }]);

      const informer = makeInformer(kc2, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
      const seen = new Set<string>();
      informer.on('add', (o) => seen.add(o.metadata!.name!));
      informer.on('delete', (o) => seen.delete(o.metadata!.name!));
      await informer.start();
      await until(() => small.openWatches() === 1);
      expect(seen.size).toBe(6);
      // While the watch is broken by 410, changes happen that only a relist can reveal.
      small.store.compact();
      small.remove('v1', 'ConfigMap', 'default', 'c0');
      small.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late', namespace: 'default' } });
      small.expireWatches();
      await until(() => seen.has('late') && !seen.has('c0'));
      await until(() => small.openWatches() === 1);
      small.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'after', namespace: 'default' } });
      await until(() => seen.has('after'));
      await informer.stop();
    } finally {
      await small.close();
    }
  });

  it('lets an informer resume after a dropped connection without losing events', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => core.listNamespacedConfigMap({ namespace: 'default' }));
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (o) => seen.push(o.metadata!.name!));
    // client-node stops an informer on a broken connection; the documented remedy is to restart it.
    informer.on('error', (err) => {
      errors.push(err);
      setTimeout(() => void informer.start(), 20);
    });
    await informer.start();
    await until(() => server.openWatches() === 1);
    server.dropWatches();
    server.apply({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'while-down', namespace: 'default' } });
    await until(() => seen.includes('while-down'));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(seen).toEqual(['while-down']);
    await informer.stop();
  });

  it('registers resources from a CustomResourceDefinition created through the API', async () => {
    server.apply({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.dev' },
      spec: {
        group: 'example.dev',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    });
    const co = kc.makeApiClient(CustomObjectsApi);
    const base = { group: 'example.dev', version: 'v1', namespace: 'default', plural: 'widgets' };
    await co.createNamespacedCustomObject({ ...base, body: { apiVersion: 'example.dev/v1', kind: 'Widget', metadata: { name: 'w' } } });
    const got = (await co.getNamespacedCustomObject({ ...base, name: 'w' })) as { kind: string };
    expect(got.kind).toBe('Widget');
  });
});

describe('test kube-apiserver: CRD schemas, generic objects, leases, metrics', () => {
  let server: TestApiServer;
  let kc: KubeConfig;

  beforeEach(async () => {
    server = await startTestApiServer({ kubelet: false });
    kc = new KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
  });
  afterEach(async () => {
    await server.close();
  });

  it('prunes unknown fields and rejects invalid InferenceServices with 422, as a cluster with the CRD installed does', async () => {
    const co = kc.makeApiClient(CustomObjectsApi);
    const base = { group: 'serving.kserve.io', version: 'v1beta1', namespace: 'default', plural: 'inferenceservices' };
    const body = {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'iris' },
      spec: { predictor: { scaleMetric: 'gpu', model: { modelFormat: { name: 'sklearn' } } } },
    };
    const status = await expectStatus(co.createNamespacedCustomObject({ ...base, body }), 422, 'Invalid');
    expect(String(status['message'])).toContain('spec.predictor.scaleMetric: Unsupported value: "gpu"');
    body.spec.predictor.scaleMetric = 'rps';
    (body.spec.predictor as Record<string, unknown>)['bogus'] = true;
    const created = (await co.createNamespacedCustomObject({ ...base, body })) as { spec: { predictor: Record<string, unknown> } };
    expect(created.spec.predictor['bogus']).toBeUndefined();
    expect(created.spec.predictor['scaleMetric']).toBe('rps');
  });

  it('works with the generic KubernetesObjectApi (kubectl-style apply of YAML, discovery-driven)', async () => {
    const objects = loadAllYaml(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: default }
spec:
  replicas: 0
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec: { containers: [{ name: main, image: example/web:1 }] }
---
apiVersion: serving.sluice.dev/v1beta1
kind: InferenceService
metadata: { name: iris, namespace: default }
spec:
  predictor:
    model: { modelFormat: { name: sklearn }, storageUri: 'gs://bucket/iris' }
`) as KubernetesObject[];
    const client = KubernetesObjectApi.makeApiClient(kc);
    for (const o of objects) await client.create(o);
    const isvc = await client.read<KubernetesObject & { spec: { predictor: { model: { storageUri: string } } } }>({ apiVersion: 'serving.sluice.dev/v1beta1', kind: 'InferenceService', metadata: { name: 'iris', namespace: 'default' } });
    expect(isvc.spec.predictor.model.storageUri).toBe('gs://bucket/iris');
    await client.patch({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'default', labels: { tier: 'front' } } }, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
    const list = await client.list('apps/v1', 'Deployment', 'default', undefined, undefined, undefined, undefined, 'tier=front');
    expect(list.items.map((d) => d.metadata?.name)).toEqual(['web']);
  });

  it('lets exactly one of two racing writers take a Lease (409 for the other)', async () => {
    const coord = kc.makeApiClient(CoordinationV1Api);
    const lease = await coord.createNamespacedLease({ namespace: 'default', body: { metadata: { name: 'sluice-controller' }, spec: { leaseDurationSeconds: 15 } } });
    const take = (holder: string) =>
      coord.replaceNamespacedLease({ name: 'sluice-controller', namespace: 'default', body: { ...lease, spec: { ...lease.spec, holderIdentity: holder, acquireTime: new V1MicroTime() } } });
    const results = await Promise.allSettled([take('a'), take('b')]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as ApiException<string>).code).toBe(409);
  });

  it('serves metrics.k8s.io pod metrics set by the test', async () => {
    server.setPodMetrics('default', 'iris-abc', { main: { cpu: '250m', memory: '300Mi' } });
    const metrics = await new Metrics(kc).getPodMetrics('default');
    expect(metrics.items.map((m) => [m.metadata.name, m.containers[0]!.usage])).toEqual([['iris-abc', { cpu: '250m', memory: '300Mi' }]]);
  });
});
