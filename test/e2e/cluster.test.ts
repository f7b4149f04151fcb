import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterAutoscaler, startClusterController, startClusterGateway, type ClusterRole, type ClusterRoleOptions } from '../../cli/cluster.js';
import { resolveServeConfig } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { startTestApiServer, type KubeObject, type RunningPod, type TestApiServer } from '../kube-apiserver/index.js';
import { DEMO_RUNTIME_MAIN, IRIS_MODEL_DIR, SLUICE_ROOT } from '../support/paths.js';
import { startRedis } from '../support/redis-server.js';
import { waitUntil } from '../support/wait.js';
import { join } from 'node:path';

const GROUP = 'serving.sluice.dev';
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Each pod runs the real demo runtime as a local process, with the pod's container env. */
async function runDemoPod(pod: KubeObject): Promise<RunningPod> {
  const c = (pod as Obj).spec.containers[0] as { args?: string[]; env?: Array<{ name: string; value?: string }> };
  const model = (c.args ?? []).find((a) => a.startsWith('--model-name='))?.slice('--model-name='.length) ?? 'model';
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', SLUICE_DEMO_WATCH_STDIN: '0' };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const child = spawn(process.execPath, [DEMO_RUNTIME_MAIN, '--port', '0', '--model-name', model, '--model-dir', IRIS_MODEL_DIR], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  // The demo runtime logs one JSON line per event; the `listening` one carries the port.
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('"listening"')) continue;
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', () => reject(new Error('the demo pod exited before listening')));
  });
  child.stdout!.resume();
  return {
    ip: '127.0.0.1',
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function isvc(spec: Obj): Obj {
  return {
    apiVersion: `${GROUP}/v1beta1`,
    kind: 'InferenceService',
    metadata: {
      name: 'iris',
      namespace: 'default',
      annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' },
    },
    spec: {
      predictor: {
        minReplicas: 0,
        maxReplicas: 3,
        ...spec,
        model: { modelFormat: { name: 'sklearn' }, runtime: 'sluice-demo', storageUri: 'pvc://models/iris', ...(spec.model ?? {}) },
      },
    },
  };
}

describe('cluster mode through the test Kubernetes API server', () => {
  let api: TestApiServer;
  let redis: { url: string; stop: () => Promise<void> };
  let objects: CustomObjectsApi;
  let controller: ClusterRole;
  let autoscaler: ClusterRole;
  let gateway: ClusterRole;
  let opts: ClusterRoleOptions;
  const replicas = (rev: string): number | undefined => (api.get('apps/v1', 'Deployment', 'default', rev) as Obj | undefined)?.spec.replicas;
  const status = (): Obj => (api.get(`${GROUP}/v1beta1`, 'InferenceService', 'default', 'iris') as Obj | undefined)?.status ?? {};
  const predict = async (): Promise<Response> =>
    fetch(`${gateway.dataUrl}/v1/models/iris:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });

  beforeAll(async () => {
    api = await startTestApiServer({ kubelet: { podRunner: runDemoPod } });
    redis = await startRedis();
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    objects = kc.makeApiClient(CustomObjectsApi);
    opts = {
      config: resolveServeConfig({ dataHost: '127.0.0.1', dataPort: 0, adminPort: 0, metricsHost: '127.0.0.1', metricsPort: 0, tickSeconds: 0.5, scaleToZeroGraceSeconds: 1, logLevel: 'silent' }),
      kubeconfig: api.kubeconfigPath,
      group: GROUP,
      redisUrl: redis.url,
      runtimes: [join(SLUICE_ROOT, 'examples', 'runtimes')],
      leaseDurationMs: 2000,
      retryPeriodMs: 200,
      logger: silentLogger(),
    };
    controller = await startClusterController({ ...opts, identity: 'controller-a' });
    autoscaler = await startClusterAutoscaler({ ...opts, identity: 'autoscaler-a' });
    gateway = await startClusterGateway({ ...opts, identity: 'gateway-a' });
  });

  afterAll(async () => {
    for (const r of [gateway, autoscaler, controller]) await r?.close().catch(() => undefined);
    await api?.close();
    await redis?.stop();
  });

  it('an applied InferenceService becomes a revision Deployment at zero, with KServe status', async () => {
    await objects.createNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', body: isvc({}) });
    await waitUntil('the revision Deployment', () => replicas('iris-predictor-00001') === 0, 10_000, 50);
    await waitUntil('status', () => status().components?.predictor?.latestCreatedRevision === 'iris-predictor-00001', 10_000, 50);
    // The revision's objects belong to the InferenceService (garbage-collected with it).
    const uid = (api.get(`${GROUP}/v1beta1`, 'InferenceService', 'default', 'iris') as Obj).metadata.uid;
    for (const kind of ['Deployment', 'Service'])
      expect((api.get(kind === 'Deployment' ? 'apps/v1' : 'v1', kind, 'default', 'iris-predictor-00001') as Obj).metadata.ownerReferences).toEqual([
        expect.objectContaining({ apiVersion: `${GROUP}/v1beta1`, kind: 'InferenceService', name: 'iris', uid, controller: true }),
      ]);
    // A first revision at initial-scale 0 has never run: no ready revision and no resolved traffic yet (the
    // gateway still routes to it, holding requests while it starts).
    expect(status().components.predictor).toMatchObject({ latestCreatedRevision: 'iris-predictor-00001', traffic: [] });
    expect(status().components.predictor.latestReadyRevision).toBeUndefined();
  });

  it('a request through the gateway scales the revision 0 → 1 via the scale subresource and is answered', async () => {
    // Ask for a tag that does not exist: the answer tells whether the gateway knows the route, without waking it.
    await waitUntil(
      'the gateway to know the route',
      async () => {
        const r = await fetch(`${gateway.dataUrl}/v1/models/iris:predict`, { method: 'POST', headers: { 'x-sluice-tag': 'none' }, body: '{}' });
        return /has no tag/.test(await r.text());
      },
      10_000,
      50,
    );
    expect(replicas('iris-predictor-00001')).toBe(0);
    const res = await predict();
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [1] });
    expect(res.headers.get('x-sluice-cold-start')).not.toBeNull();
    expect(replicas('iris-predictor-00001')).toBe(1);
    expect(api.requestLog().some((r) => r.method === 'PUT' && r.path.endsWith('/deployments/iris-predictor-00001/scale'))).toBe(true);
    await waitUntil('the revision ready in status', () => status().components?.predictor?.latestReadyRevision === 'iris-predictor-00001', 10_000, 50);
    expect(status().components.predictor.traffic).toEqual([{ revisionName: 'iris-predictor-00001', percent: 100, latestRevision: true }]);
  });

  it('idle scales it back to zero', async () => {
    await waitUntil('scale to zero', () => replicas('iris-predictor-00001') === 0, 40_000, 200);
  });

  it('a restarted controller takes over without a new revision or a status change', async () => {
    const before = JSON.stringify(status().components.predictor);
    await controller.close();
    controller = await startClusterController({ ...opts, identity: 'controller-b' });
    await waitUntil('controller-b to lead', () => controller.isLeader!(), 10_000, 50);
    await new Promise((r) => setTimeout(r, 500));
    expect(api.list('apps/v1', 'Deployment', 'default').map((d) => d.metadata.name)).toEqual(['iris-predictor-00001']);
    expect(JSON.stringify(status().components.predictor)).toBe(before);
  });

  it('a canary update creates a second revision and splits traffic', async () => {
    const current = (await objects.getNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name: 'iris' })) as Obj;
    const next = isvc({ canaryTrafficPercent: 30, model: { env: [{ name: 'SLUICE_DEMO_LABEL', value: 'v2' }] } });
    next.metadata.resourceVersion = current.metadata.resourceVersion;
    await objects.replaceNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name: 'iris', body: next });
    await waitUntil('a second revision', () => replicas('iris-predictor-00002') !== undefined, 10_000, 50);
    // It starts one replica at once although its initial scale is 0, to prove itself ready.
    expect(replicas('iris-predictor-00002')).toBe(1);
    // KServe semantics: until v2 is ready both targets resolve to v1, so wait for v2 to take its share.
    await waitUntil('a 70/30 split in status', () => status().components?.predictor?.traffic?.[0]?.revisionName === 'iris-predictor-00002', 10_000, 50);
    expect(status().components.predictor).toMatchObject({
      latestCreatedRevision: 'iris-predictor-00002',
      latestRolledoutRevision: 'iris-predictor-00001',
      traffic: [
        { revisionName: 'iris-predictor-00002', percent: 30, latestRevision: true },
        { revisionName: 'iris-predictor-00001', percent: 70, latestRevision: false },
      ],
    });
    await new Promise((r) => setTimeout(r, 300)); // the gateway's informer sees the new status
    const labels = await Promise.all(Array.from({ length: 20 }, async () => (await predict()).headers.get('x-demo-label') ?? 'v1'));
    expect(labels.filter((l) => l === 'v2')).toHaveLength(6);
    expect(labels.filter((l) => l === 'v1')).toHaveLength(14);
  });

  it('a restarted autoscaler keeps the replicas it finds', async () => {
    const before = [replicas('iris-predictor-00001'), replicas('iris-predictor-00002')];
    expect(before.every((n) => (n ?? 0) > 0)).toBe(true);
    await autoscaler.close();
    autoscaler = await startClusterAutoscaler({ ...opts, identity: 'autoscaler-b' });
    await waitUntil('autoscaler-b to lead', () => autoscaler.isLeader!(), 10_000, 50);
    await new Promise((r) => setTimeout(r, 1500));
    expect([replicas('iris-predictor-00001'), replicas('iris-predictor-00002')]).toEqual(before);
  });

  it('two controllers on one Lease never both lead', async () => {
    const second = await startClusterController({ ...opts, identity: 'controller-c' });
    try {
      for (let i = 0; i < 10; i++) {
        expect(controller.isLeader!() && second.isLeader!()).toBe(false);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(controller.isLeader!()).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('recovers from broken watches (410 Gone and dropped connections)', async () => {
    api.expireWatches();
    api.dropWatches();
    await new Promise((r) => setTimeout(r, 300));
    const current = (await objects.getNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name: 'iris' })) as Obj;
    const promoted = isvc({ model: { env: [{ name: 'SLUICE_DEMO_LABEL', value: 'v2' }] } });
    promoted.metadata.resourceVersion = current.metadata.resourceVersion;
    await objects.replaceNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name: 'iris', body: promoted });
    await waitUntil('the promotion to reach status', () => status().components?.predictor?.traffic?.[0]?.percent === 100, 15_000, 50);
    expect(status().components.predictor).toMatchObject({ latestRolledoutRevision: 'iris-predictor-00002', previousRolledoutRevision: 'iris-predictor-00001' });
    await waitUntil('the gateway to follow', async () => (await predict()).headers.get('x-demo-label') === 'v2', 10_000, 100);
  });
});
