import { request as httpRequest } from 'node:http';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterAutoscaler, startClusterController, startClusterGateway, type ClusterRole, type ClusterRoleOptions } from '../../cli/cluster.js';
import { resolveServeConfig } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { startTestApiServer, type TestApiServer } from '../kube-apiserver/index.js';
import { runDemoPod } from '../support/demo-pod.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { metricValue } from '../support/metrics-text.js';
import { startRedis } from '../support/redis-server.js';
import { waitUntil } from '../support/wait.js';
import { join } from 'node:path';

const GROUP = 'serving.sluice.dev';
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function isvc(name: string, spec: Obj, annotations: Record<string, string> = {}): Obj {
  return {
    apiVersion: `${GROUP}/v1beta1`,
    kind: 'InferenceService',
    metadata: {
      name,
      namespace: 'default',
      annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s', ...annotations },
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

const LEASE_MS = 2000;

/**
 * Each test creates the InferenceService it works on (its own name), so any one runs alone
 * (`vitest run -t "<name>"`) and one failure does not cascade. The API server, Redis and the three roles are
 * shared (expensive to start); a test that restarts a role leaves a running one behind.
 */
describe('cluster mode through the test Kubernetes API server', () => {
  let api: TestApiServer;
  let redis: { url: string; stop: () => Promise<void> };
  let objects: CustomObjectsApi;
  let controller: ClusterRole;
  let autoscaler: ClusterRole;
  let gateway: ClusterRole;
  let opts: ClusterRoleOptions;
  const replicas = (rev: string): number | undefined => (api.get('apps/v1', 'Deployment', 'default', rev) as Obj | undefined)?.spec.replicas;
  const status = (name: string): Obj => (api.get(`${GROUP}/v1beta1`, 'InferenceService', 'default', name) as Obj | undefined)?.status ?? {};
  const predict = async (name: string): Promise<Response> =>
    fetch(`${gateway.dataUrl}/v1/models/${name}:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
  const create = async (body: Obj): Promise<void> => {
    await objects.createNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', body });
  };
  /** Replaces the spec at the version just read; a status write in between (409) means read again, as kubectl does. */
  const replace = async (body: Obj): Promise<void> => {
    const name = body.metadata.name as string;
    for (let attempt = 1; ; attempt++) {
      const current = (await objects.getNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name })) as Obj;
      body.metadata.resourceVersion = current.metadata.resourceVersion;
      try {
        await objects.replaceNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name, body });
        return;
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt >= 5) throw err;
      }
    }
  };
  /** A request with an explicit Host header (fetch cannot set one). */
  const viaHost = (host: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string; label: string | undefined }> =>
    new Promise((resolve, reject) => {
      const url = new URL(gateway.dataUrl!);
      const req = httpRequest({ host: url.hostname, port: url.port, path, method: body === undefined ? 'GET' : 'POST', headers: { ...headers, host } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, label: res.headers['x-demo-label'] as string | undefined }));
      });
      req.on('error', reject);
      req.end(body);
    });
  /** The gateway has the service's route: a request for a tag that does not exist says so, without waking it. */
  const gatewayKnows = (name: string): Promise<boolean> =>
    waitUntil(
      `the gateway to know the route of ${name}`,
      async () => {
        const r = await fetch(`${gateway.dataUrl}/v1/models/${name}:predict`, { method: 'POST', headers: { 'x-sluice-tag': 'none' }, body: '{}' });
        return /has no tag/.test(await r.text());
      },
      10_000,
      50,
    );
  /** Creates a service and waits for its first revision's Deployment and its status traffic. */
  const createAndWait = async (body: Obj): Promise<void> => {
    const name = body.metadata.name as string;
    await create(body);
    await waitUntil(`the revision Deployment of ${name}`, () => replicas(`${name}-predictor-00001`) !== undefined, 10_000, 50);
    // A first revision at zero has no resolved traffic until it has run; the gateway routes to the latest created.
    await waitUntil(`status of ${name}`, () => status(name).components?.predictor?.latestCreatedRevision === `${name}-predictor-00001`, 10_000, 50);
  };

  beforeAll(async () => {
    api = await startTestApiServer({ kubelet: { podRunner: runDemoPod, crashBackoffMs: 100 } });
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
      leaseDurationMs: LEASE_MS,
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
    await create(isvc('applied', {}));
    await waitUntil('the revision Deployment', () => replicas('applied-predictor-00001') === 0, 10_000, 50);
    await waitUntil('status', () => status('applied').components?.predictor?.latestCreatedRevision === 'applied-predictor-00001', 10_000, 50);
    // The revision's objects belong to the InferenceService (garbage-collected with it).
    const uid = (api.get(`${GROUP}/v1beta1`, 'InferenceService', 'default', 'applied') as Obj).metadata.uid;
    for (const kind of ['Deployment', 'Service'])
      expect((api.get(kind === 'Deployment' ? 'apps/v1' : 'v1', kind, 'default', 'applied-predictor-00001') as Obj).metadata.ownerReferences).toEqual([
        expect.objectContaining({ apiVersion: `${GROUP}/v1beta1`, kind: 'InferenceService', name: 'applied', uid, controller: true }),
      ]);
    // A first revision at initial-scale 0 has never run: no ready revision and no resolved traffic yet (the
    // gateway still routes to it, holding requests while it starts).
    expect(status('applied').components.predictor).toMatchObject({ latestCreatedRevision: 'applied-predictor-00001', traffic: [] });
    expect(status('applied').components.predictor.latestReadyRevision).toBeUndefined();
  });

  it('a request through the gateway scales the revision 0 → 1 via the scale subresource and is answered', async () => {
    await createAndWait(isvc('wake', {}));
    await gatewayKnows('wake');
    expect(replicas('wake-predictor-00001')).toBe(0);
    const res = await predict('wake');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [1] });
    expect(res.headers.get('x-sluice-cold-start')).not.toBeNull();
    expect(replicas('wake-predictor-00001')).toBe(1);
    expect(api.requestLog().some((r) => r.method === 'PUT' && r.path.endsWith('/deployments/wake-predictor-00001/scale'))).toBe(true);
    await waitUntil('the revision ready in status', () => status('wake').components?.predictor?.latestReadyRevision === 'wake-predictor-00001', 10_000, 50);
    expect(status('wake').components.predictor.traffic).toEqual([{ revisionName: 'wake-predictor-00001', percent: 100, latestRevision: true }]);
  });

  it('idle scales it back to zero', async () => {
    await createAndWait(isvc('idle', {}));
    await gatewayKnows('idle');
    expect((await predict('idle')).status).toBe(200);
    expect(replicas('idle-predictor-00001')).toBe(1);
    await waitUntil('scale to zero', () => replicas('idle-predictor-00001') === 0, 40_000, 200);
    // At zero the gateway answers model readiness itself: the revision has been ready (latestReadyRevision).
    await waitUntil('no idle replica in the gateway', async () => {
      const r = await fetch(`${gateway.dataUrl}/v2/models/idle/ready`);
      await r.arrayBuffer();
      return r.headers.get('x-sluice-answered-by') === 'gateway';
    }, 10_000, 100);
    const ready = await fetch(`${gateway.dataUrl}/v2/models/idle/ready`);
    expect([ready.status, await ready.json()]).toEqual([200, { name: 'idle', ready: true }]);
    expect(replicas('idle-predictor-00001')).toBe(0);
  });

  it('a revision whose pods exit before ready fails after maxStartFailures with the container\'s own words; a held request gets 503 at once', async () => {
    // The demo runtime refuses a bad knob at start (exit 2): every pod of this revision crash-loops.
    await createAndWait(isvc('crashy', { model: { env: [{ name: 'SLUICE_DEMO_LATENCY_MS', value: 'oops' }] } }));
    await gatewayKnows('crashy');
    const started = Date.now();
    const res = await predict('crashy');
    const body = (await res.json()) as { error: string };
    expect(res.status).toBe(503);
    expect(body.error).toMatch(/^revision crashy-predictor-00001 failed to become ready: 3 replicas exited before ready \(limit 3\); the last: pod crashy-predictor-00001-\S+: container \S+ exited with code 2 \(Error\): demo-runtime: latency: "oops" is not a number in \[0, Infinity\]$/);
    // Well before the revision's request timeout or its progress deadline: the crashes were counted.
    expect(Date.now() - started).toBeLessThan(20_000);
    await waitUntil('the failure in status', () => JSON.stringify(status('crashy')).includes('exited before ready'), 10_000, 50);
    await waitUntil('the failed revision stopped', () => replicas('crashy-predictor-00001') === 0, 10_000, 50);
    // Marked on its Deployment, so the autoscaler role (another process) never starts it again for the demand the
    // held request left in its window, nor after a restart.
    const deployment = api.get('apps/v1', 'Deployment', 'default', 'crashy-predictor-00001') as Obj;
    expect(deployment.metadata.annotations['serving.sluice.dev/failed']).toMatch(/^revision crashy-predictor-00001 failed to become ready: 3 replicas exited/);
    await new Promise((r) => setTimeout(r, 4 * 500));
    expect(replicas('crashy-predictor-00001')).toBe(0);
  });

  it('a restarted controller takes over without a new revision or a status change', async () => {
    await createAndWait(isvc('steady', {}));
    const before = JSON.stringify(status('steady').components.predictor);
    await controller.close();
    controller = await startClusterController({ ...opts, identity: `controller-${Date.now()}` });
    await waitUntil('the new controller to lead', () => controller.isLeader!(), 10_000, 50);
    // A barrier instead of a sleep: once the new leader has made the Deployment of a service created after it
    // took over, it has been through its start-up reconcile of `steady` — where a spurious revision or status
    // rewrite would appear.
    await createAndWait(isvc('steady-barrier', {}));
    const steady = api.list('apps/v1', 'Deployment', 'default').map((d) => d.metadata.name as string).filter((n) => n.startsWith('steady-predictor-'));
    expect(steady).toEqual(['steady-predictor-00001']);
    expect(JSON.stringify(status('steady').components.predictor)).toBe(before);
  });

  it('a canary update creates a second revision and splits traffic', async () => {
    // One replica each, so both revisions are ready and the split is not a cold start.
    await createAndWait(isvc('canary', { minReplicas: 1 }));
    // v1 must have been ready (rolled out) before the canary arrives, or v2 becomes the rolled-out revision.
    await waitUntil('v1 ready', () => status('canary').components?.predictor?.latestReadyRevision === 'canary-predictor-00001', 20_000, 50);
    await replace(isvc('canary', { minReplicas: 1, canaryTrafficPercent: 30, model: { env: [{ name: 'SLUICE_DEMO_LABEL', value: 'v2' }] } }));
    await waitUntil('a second revision', () => replicas('canary-predictor-00002') !== undefined, 10_000, 50);
    // KServe semantics: until v2 is ready both targets resolve to v1, so wait for v2 to take its share.
    await waitUntil('a 70/30 split in status', () => status('canary').components?.predictor?.traffic?.[0]?.revisionName === 'canary-predictor-00002', 20_000, 50);
    expect(status('canary').components.predictor).toMatchObject({
      latestCreatedRevision: 'canary-predictor-00002',
      latestRolledoutRevision: 'canary-predictor-00001',
      traffic: [
        { revisionName: 'canary-predictor-00002', percent: 30, latestRevision: true },
        { revisionName: 'canary-predictor-00001', percent: 70, latestRevision: false },
      ],
    });
    // Wait for the gateway to route by the new split (its informer follows the status): one request at a time
    // until v2 answers. The picker is smooth weighted round-robin, so any 20 consecutive picks of 70/30 hold
    // exactly 6 for v2, whatever the offset.
    await waitUntil('the gateway to send a request to v2', async () => (await predict('canary')).headers.get('x-demo-label') === 'v2', 10_000, 0);
    const labels = await Promise.all(Array.from({ length: 20 }, async () => (await predict('canary')).headers.get('x-demo-label') ?? 'v1'));
    expect(labels.filter((l) => l === 'v2')).toHaveLength(6);
    expect(labels.filter((l) => l === 'v1')).toHaveLength(14);
  });

  it('the -predictor host status advertises routes, and a sticky user stays on one revision (one route builder for both modes)', async () => {
    const sticky = { 'sluice.dev/sticky-header': 'x-user' };
    await createAndWait(isvc('sticky', { minReplicas: 1 }, sticky));
    const predictorHost = 'sticky-predictor.default.example.com';
    expect(status('sticky').components.predictor.url).toMatch(/^http:\/\/sticky-predictor\.default\.example\.com(:\d+)?$/);
    // A tag that does not exist is answered by the gateway without waking anything — once the host is routed.
    await waitUntil(
      'the gateway to route the -predictor host',
      async () => /has no tag/.test((await viaHost(predictorHost, '/', { 'x-sluice-tag': 'none' })).body),
      10_000,
      50,
    );
    await replace(isvc('sticky', { minReplicas: 1, canaryTrafficPercent: 50, model: { env: [{ name: 'SLUICE_DEMO_LABEL', value: 'v2' }] } }, sticky));
    await waitUntil('a 50/50 split in status', () => status('sticky').components?.predictor?.traffic?.[0]?.revisionName === 'sticky-predictor-00002', 20_000, 50);
    const predictAs = async (user: string): Promise<string> => {
      const r = await viaHost(predictorHost, '/v1/models/sticky:predict', { 'x-user': user }, JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }));
      expect(r.status).toBe(200);
      return r.label ?? 'v1';
    };
    let probe = 0;
    await waitUntil('the gateway to send a user to v2', async () => (await predictAs(`probe-${probe++}`)) === 'v2', 10_000, 0);
    // Without stickiness the 50/50 round-robin alternates, so a user's consecutive requests would see both.
    const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);
    const seen: Record<string, string[]> = {};
    for (const u of users) for (let i = 0; i < 3; i++) (seen[u] ??= []).push(await predictAs(u));
    for (const u of users) expect(new Set(seen[u]).size, `${u} saw ${seen[u]!.join(', ')}`).toBe(1);
    expect(new Set(users.map((u) => seen[u]![0])).size).toBe(2);
  });

  it('a restarted autoscaler keeps the replicas it finds', async () => {
    // A long window: nothing may scale this revision down during the test, so any change is the restart's doing.
    await createAndWait(isvc('adopted', {}, { 'autoscaling.knative.dev/window': '60s' }));
    await gatewayKnows('adopted');
    expect((await predict('adopted')).status).toBe(200);
    expect(replicas('adopted-predictor-00001')).toBe(1);
    await autoscaler.close();
    autoscaler = await startClusterAutoscaler({ ...opts, identity: `autoscaler-${Date.now()}` });
    await waitUntil('the new autoscaler to lead', () => autoscaler.isLeader!(), 10_000, 50);
    const scrape = async (): Promise<string> => (await fetch(`${autoscaler.metricsUrl}/metrics`)).text();
    const labels = { namespace: 'default', service: 'adopted', revision: 'adopted-predictor-00001' };
    // It has adopted the revision (its gauges exist), then gets the ticks (0.5 s each) in which a restart that
    // forgot the replicas would scale them away (to initial-scale 0, or from empty history).
    await waitUntil('the new autoscaler to adopt the revision', async () => metricValue(await scrape(), 'sluice_desired_replicas', labels) !== undefined, 10_000, 50);
    const adoptedAt = Date.now();
    await waitUntil('four ticks after adoption', () => Date.now() - adoptedAt >= 4 * 500, 5_000, 50);
    expect(replicas('adopted-predictor-00001')).toBe(1);
    const text = await scrape();
    expect(metricValue(text, 'sluice_desired_replicas', labels)).toBe(1);
    // No scale decision at all since the restart.
    expect(text.split('\n').filter((l) => l.startsWith('sluice_scale_events_total{'))).toEqual([]);
  });

  it('two controllers on one Lease never both lead', async () => {
    await waitUntil('a controller to lead', () => controller.isLeader!(), 10_000, 50);
    const second = await startClusterController({ ...opts, identity: `controller-c-${Date.now()}` });
    try {
      // Sampled every 10 ms over 2.5 lease durations: the holder renews at least twice and the challenger's
      // lease-expiry check runs throughout, which is where two leaders would appear.
      const until = Date.now() + 2.5 * LEASE_MS;
      let samples = 0;
      while (Date.now() < until) {
        expect(controller.isLeader!() && second.isLeader!()).toBe(false);
        samples++;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(samples).toBeGreaterThan(50);
      expect(controller.isLeader!()).toBe(true);
      expect(second.isLeader!()).toBe(false);
    } finally {
      await second.close();
    }
  });

  it('recovers from broken watches (410 Gone and dropped connections)', async () => {
    await createAndWait(isvc('watched', { minReplicas: 1 }));
    await waitUntil('v1 rolled out', () => status('watched').components?.predictor?.latestRolledoutRevision === 'watched-predictor-00001', 20_000, 50);
    // Break every watch, then change the spec at once: the change lands while watchers relist and resume.
    api.expireWatches();
    api.dropWatches();
    await replace(isvc('watched', { minReplicas: 1, model: { env: [{ name: 'SLUICE_DEMO_LABEL', value: 'v2' }] } }));
    await waitUntil(
      'the promotion to reach status',
      () => status('watched').components?.predictor?.latestRolledoutRevision === 'watched-predictor-00002',
      20_000,
      50,
    );
    expect(status('watched').components.predictor).toMatchObject({
      latestRolledoutRevision: 'watched-predictor-00002',
      previousRolledoutRevision: 'watched-predictor-00001',
      traffic: [expect.objectContaining({ revisionName: 'watched-predictor-00002', percent: 100 })],
    });
    await waitUntil('the gateway to follow', async () => (await predict('watched')).headers.get('x-demo-label') === 'v2', 10_000, 100);
  });
});
