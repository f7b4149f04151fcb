/**
 * Progressive rollouts in cluster mode (issue 20): two gateways flush request outcomes to one Redis, the
 * controller decides on their sum, its rollout state lives in status and survives a SIGKILLed leader, and the
 * gateways take a replica only once the runtime's own readiness path says so.
 *
 * Real pieces: the test API server with its kubelet running demo-runtime processes, redis-server, two
 * controller processes on one Lease, the autoscaler and two gateways (in-process).
 */
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterAutoscaler, startClusterGateway, type ClusterRole, type ClusterRoleOptions } from '../../cli/cluster.js';
import { resolveServeConfig } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { startTestApiServer, type TestApiServer } from '../kube-apiserver/index.js';
import { startRoleProcess, type RoleProcess } from '../support/cluster-role-process.js';
import { runDemoPod } from '../support/demo-pod.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { startRedis } from '../support/redis-server.js';
import { waitUntil } from '../support/wait.js';

const GROUP = 'serving.sluice.dev';
const LEASE_MS = 2000;
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function isvc(name: string, predictor: Obj, env: Record<string, string> = {}): Obj {
  return {
    apiVersion: `${GROUP}/v1beta1`,
    kind: 'InferenceService',
    metadata: { name, namespace: 'default', annotations: { 'autoscaling.knative.dev/window': '60s' } },
    spec: {
      predictor: {
        maxReplicas: 1,
        ...predictor,
        model: {
          modelFormat: { name: 'sklearn' },
          runtime: 'sluice-demo',
          storageUri: 'pvc://models/iris',
          env: Object.entries(env).map(([n, value]) => ({ name: n, value })),
        },
      },
    },
  };
}

const body = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });

describe('cluster-mode rollouts across gateways and controller leader changes', () => {
  let api: TestApiServer;
  let redis: { url: string; stop: () => Promise<void> };
  let objects: CustomObjectsApi;
  const controllers = new Map<string, RoleProcess>();
  let autoscaler: ClusterRole;
  let gateways: ClusterRole[] = [];
  let controllerSeq = 0;

  const status = (name: string): Obj => (api.get(`${GROUP}/v1beta1`, 'InferenceService', 'default', name) as Obj | undefined)?.status ?? {};
  const leader = (): string | undefined => (api.get('coordination.k8s.io/v1', 'Lease', 'default', 'sluice-controller') as Obj | undefined)?.spec?.holderIdentity ?? undefined;
  const predict = async (gw: ClusterRole, name: string): Promise<{ status: number; label: string }> => {
    const r = await fetch(`${gw.dataUrl}/v1/models/${name}:predict`, { method: 'POST', body });
    await r.arrayBuffer();
    return { status: r.status, label: r.headers.get('x-demo-label') ?? 'v1' };
  };
  const startController = async (): Promise<void> => {
    const identity = `controller-${++controllerSeq}`;
    controllers.set(
      identity,
      await startRoleProcess({
        role: 'controller',
        identity,
        kubeconfig: api.kubeconfigPath,
        redisUrl: redis.url,
        group: GROUP,
        runtimes: [join(SLUICE_ROOT, 'examples', 'runtimes')],
        leaseDurationMs: LEASE_MS,
        retryPeriodMs: 200,
      }),
    );
  };
  const upsert = async (body: Obj): Promise<void> => {
    const name = body.metadata.name as string;
    for (let attempt = 1; ; attempt++) {
      try {
        const current = (await objects.getNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name }).catch(() => null)) as Obj | null;
        if (!current) return void (await objects.createNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', body }));
        body.metadata.resourceVersion = current.metadata.resourceVersion;
        return void (await objects.replaceNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', name, body }));
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt >= 5) throw err;
      }
    }
  };
  /** v1 ready and rolled out with one replica, then v2 under `rollout` policy; resolves when the canary is ready. */
  const startRollout = async (name: string, rollout: Obj, v2env: Record<string, string> = {}): Promise<void> => {
    await upsert(isvc(name, { minReplicas: 1 }, { SLUICE_DEMO_LABEL: 'v1' }));
    await waitUntil(`${name} v1 rolled out`, () => status(name).components?.predictor?.latestRolledoutRevision === `${name}-predictor-00001`, 30_000, 50);
    await upsert(isvc(name, { minReplicas: 1, rollout }, { SLUICE_DEMO_LABEL: 'v2', ...v2env }));
    await waitUntil(`${name} canary ready`, () => status(name).rollout?.canaryReady === true, 30_000, 50);
  };
  /** Sends requests for `name` through every gateway in turn, `concurrency` at a time, until stopped. */
  const load = (name: string, concurrency: number): { stop: () => Promise<Array<{ gateway: number; status: number; label: string }>> } => {
    const seen: Array<{ gateway: number; status: number; label: string }> = [];
    let running = true;
    let n = 0;
    const worker = async (): Promise<void> => {
      while (running) {
        const g = n++ % gateways.length;
        seen.push({ gateway: g, ...(await predict(gateways[g]!, name)) });
      }
    };
    const workers = Array.from({ length: concurrency }, worker);
    return {
      stop: async () => {
        running = false;
        await Promise.all(workers);
        return seen;
      },
    };
  };
  /** Every (phase, step) status showed, in order, for `name` (sampled every 20 ms until stopped). */
  const watchSteps = (name: string): { stop: () => string[] } => {
    const seen: string[] = [];
    const sample = (): void => {
      const r = status(name).rollout;
      const s = r ? `${r.phase}:${r.step}` : 'none';
      if (seen[seen.length - 1] !== s) seen.push(s);
    };
    const timer = setInterval(sample, 20);
    // A last look when stopped: the state a caller just waited for is in the list even if no tick ran since.
    return { stop: () => (clearInterval(timer), sample(), seen) };
  };
  const eventsOf = (name: string, reason: string): Obj[] => ((status(name).events ?? []) as Obj[]).filter((e) => e.reason === reason);

  beforeAll(async () => {
    api = await startTestApiServer({ kubelet: { podRunner: runDemoPod } });
    redis = await startRedis();
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    objects = kc.makeApiClient(CustomObjectsApi);
    const opts: ClusterRoleOptions = {
      config: resolveServeConfig({ dataHost: '127.0.0.1', dataPort: 0, adminPort: 0, metricsHost: '127.0.0.1', metricsPort: 0, tickSeconds: 0.5, logLevel: 'silent' }),
      kubeconfig: api.kubeconfigPath,
      group: GROUP,
      redisUrl: redis.url,
      leaseDurationMs: LEASE_MS,
      retryPeriodMs: 200,
      logger: silentLogger(),
    };
    await startController();
    await startController();
    autoscaler = await startClusterAutoscaler({ ...opts, identity: 'autoscaler-a' });
    gateways = [await startClusterGateway({ ...opts, identity: 'gateway-a' }), await startClusterGateway({ ...opts, identity: 'gateway-b' })];
    await waitUntil('a controller to lead', () => leader() !== undefined, 10_000, 50);
  }, 60_000);

  afterAll(async () => {
    for (const g of gateways) await g.close().catch(() => undefined);
    await autoscaler?.close().catch(() => undefined);
    for (const c of controllers.values()) await c.kill().catch(() => undefined);
    await api?.close();
    await redis?.stop();
  });

  it("advances on the sum of both gateways' outcomes (neither alone has enough evidence) and completes", async () => {
    // 25 % then 50 %: each step needs 30 canary requests; each gateway's round-robin sends exactly 1 in 4 to
    // the canary at 25 %, so 80 requests through each give 20 + 20 — only their sum reaches 30.
    await startRollout('merged', { steps: [25, 50], dwellSeconds: 1, minRequests: 30, maxP99Ratio: 50 });
    const steps = watchSteps('merged');
    // Each gateway must route by the 25 % split first (its informer follows status): one request at a time.
    for (const [i, gw] of gateways.entries())
      await waitUntil(`gateway ${i} to send a request to v2`, async () => (await predict(gw, 'merged')).label === 'v2', 15_000, 0);
    expect(status('merged').rollout).toMatchObject({ phase: 'Progressing', step: 0 });
    // Gateway a first, then b: at 25 % a sends 20 canary requests (+1 probe), fewer than the 30 a step needs, so
    // the step can only advance once b's outcomes add to a's (it may do so while b is still sending).
    // A step counts whole seconds after the one it started in (that second mixes the old split's requests), so
    // the counted requests go after it: on a fast machine all 160 could otherwise land in the starting second.
    const stepSecond = Math.floor(Date.parse(status('merged').rollout.stepStartedAt as string) / 1000);
    await waitUntil('the second after the step started', () => Math.floor(Date.now() / 1000) > stepSecond, 5_000, 10);
    let v2 = 0;
    for (const gw of gateways) for (let i = 0; i < 80; i++) if ((await predict(gw, 'merged')).label === 'v2') v2++;
    const advanced = await waitUntil('the step to 50 %', () => eventsOf('merged', 'RolloutStepAdvanced')[0], 40_000, 50);
    const counted = Number(/\((\d+) requests/.exec(advanced.message as string)?.[1]);
    expect(counted).toBeGreaterThanOrEqual(30);
    expect(counted).toBeLessThanOrEqual(v2 + 2);
    const running = load('merged', 4);
    await waitUntil('the rollout to succeed', () => status('merged').rollout?.phase === 'Succeeded', 30_000, 50);
    const served = await running.stop();
    expect(served.every((r) => r.status === 200)).toBe(true);
    expect(steps.stop()).toEqual(['Progressing:0', 'Progressing:1', 'Succeeded:1']);
    expect(status('merged').components.predictor.traffic).toEqual([expect.objectContaining({ revisionName: 'merged-predictor-00002', percent: 100 })]);
    expect(eventsOf('merged', 'RolloutStepAdvanced')).toHaveLength(1);
    expect(eventsOf('merged', 'RolloutSucceeded')).toHaveLength(1);
  }, 120_000);

  it('rolls a canary that fails 40 % of its requests back, once, with the reason in status', async () => {
    await startRollout('failing', { steps: [25, 50], dwellSeconds: 2, minRequests: 20, maxP99Ratio: 50 }, { SLUICE_DEMO_ERROR_RATE: '0.4' });
    const running = load('failing', 4);
    await waitUntil('the rollback', () => status('failing').rollout?.phase === 'RolledBack', 30_000, 50);
    await running.stop();
    const st = status('failing');
    expect(st.rollout.message).toMatch(/^canary error rate \d+\.\d% exceeds the stable revision's 0\.0% by .* \(limit 5\.0%\) over \d+ canary and \d+ stable requests at step 25%$/);
    expect(st.components.predictor.traffic).toEqual(
      expect.arrayContaining([expect.objectContaining({ revisionName: 'failing-predictor-00001', percent: 100 })]),
    );
    expect(eventsOf('failing', 'RolloutRolledBack')).toHaveLength(1);
    expect(eventsOf('failing', 'RolloutStepAdvanced')).toHaveLength(0);
    // Both gateways follow: every request is v1's now.
    await waitUntil('the gateways to route v1 only', async () => (await Promise.all(gateways.map((g) => predict(g, 'failing')))).every((r) => r.label === 'v1'), 10_000, 50);
    const after = await load('failing', 2);
    await new Promise((r) => setTimeout(r, 500));
    const later = await after.stop();
    expect(later.length).toBeGreaterThan(5);
    expect(later.every((r) => r.status === 200 && r.label === 'v1')).toBe(true);
  }, 120_000);

  it('a SIGKILLed controller leader mid-rollout: the new leader carries on from the step status holds and finishes exactly once', async () => {
    await startRollout('takeover', { steps: [20, 40, 60], dwellSeconds: 2, minRequests: 10, maxP99Ratio: 50 });
    const steps = watchSteps('takeover');
    const running = load('takeover', 4);
    await waitUntil('step 40 %', () => status('takeover').rollout?.step === 1, 30_000, 20);
    const old = leader()!;
    await controllers.get(old)!.kill();
    controllers.delete(old);
    await startController(); // a standby again, as a Deployment would restart the pod
    await waitUntil('another controller to lead', () => leader() !== undefined && leader() !== old, 15_000, 50);
    await waitUntil('the rollout to succeed', () => status('takeover').rollout?.phase === 'Succeeded', 40_000, 50);
    const served = await running.stop();
    expect(served.every((r) => r.status === 200)).toBe(true);
    // Never back to a step already passed; each step taken once, in status's event record across both leaders.
    expect(steps.stop()).toEqual(['Progressing:0', 'Progressing:1', 'Progressing:2', 'Succeeded:2']);
    expect(eventsOf('takeover', 'RolloutStarted')).toHaveLength(1);
    expect(eventsOf('takeover', 'RolloutStepAdvanced').map((e) => /moving to (\d+)%/.exec(e.message as string)?.[1])).toEqual(['40', '60']);
    expect(eventsOf('takeover', 'RolloutSucceeded')).toHaveLength(1);
    expect(status('takeover').components.predictor.traffic).toEqual([expect.objectContaining({ revisionName: 'takeover-predictor-00002', percent: 100 })]);
  }, 120_000);

  it("a replica that accepts connections but whose runtime answers not-ready on its readiness path takes no request until it is ready", async () => {
    // The test kubelet marks the pod ready as soon as it listens; the demo model loads 3 s later and answers 503
    // until then. A bare TCP connect would let the first request through to that 503.
    await upsert({
      ...isvc('slowready', { minReplicas: 0 }, { SLUICE_DEMO_STARTUP_DELAY_MS: '3000' }),
      metadata: { name: 'slowready', namespace: 'default', annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '60s' } },
    });
    await waitUntil('the revision', () => status('slowready').components?.predictor?.latestCreatedRevision === 'slowready-predictor-00001', 15_000, 50);
    await waitUntil('the gateways to know the route', async () => {
      const r = await fetch(`${gateways[0]!.dataUrl}/v1/models/slowready:predict`, { method: 'POST', headers: { 'x-sluice-tag': 'none' }, body: '{}' });
      return /has no tag/.test(await r.text());
    }, 10_000, 50);
    const started = Date.now();
    const res = await fetch(`${gateways[0]!.dataUrl}/v1/models/slowready:predict`, { method: 'POST', body });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [1] });
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
  }, 60_000);
});
