/**
 * Cluster mode: a transformer at zero and its predictor at zero are both woken by one request (docs/transformer.md,
 * "Waking the predictor with its transformer"). The three roles run against the test Kubernetes API server; pods
 * are real local processes — the demo runtime for predictors, the chain fixture (KServe's transformer contract)
 * for transformers, its `--predictor_host` pointed at this gateway instead of the in-cluster Service.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClusterAutoscaler, startClusterController, startClusterGateway, type ClusterRole, type ClusterRoleOptions } from '../../cli/cluster.js';
import { resolveServeConfig } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { DEFAULT_GATEWAY_ADDRESS } from '../../deploy/backends/kubernetes/render-revision.js';
import { startTestApiServer, type KubeObject, type RunningPod, type TestApiServer } from '../kube-apiserver/index.js';
import { runDemoPod, stopDemoPod } from '../support/demo-pod.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { startRedis } from '../support/redis-server.js';
import { waitUntil } from '../support/wait.js';

const GROUP = 'serving.sluice.dev';
const COMPONENT = join(SLUICE_ROOT, 'test', 'fixtures', 'chain', 'component.mjs');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}


describe('cluster mode: a transformer and its predictor woken together', () => {
  let api: TestApiServer;
  let redis: { url: string; stop: () => Promise<void> };
  let objects: CustomObjectsApi;
  const roles: ClusterRole[] = [];
  let gatewayUrl = '';
  /** Per service: the predictor's Deployment replicas when its transformer's pod was asked to start (after a grace). */
  const predictorAtTransformerStart = new Map<string, number>();
  const replicas = (rev: string): number => (api.get('apps/v1', 'Deployment', 'default', rev) as Obj | undefined)?.spec.replicas ?? 0;

  /**
   * A transformer pod first gives the predictor up to 3 s to be asked for a replica — which only happens before the
   * transformer answers anything if the gateway woke both at once — and records what it saw; then it starts.
   */
  async function runTransformerPod(c: { args?: string[]; env?: Array<{ name: string; value?: string }> }): Promise<RunningPod> {
    const args = [...(c.args ?? [])];
    const service = args[args.indexOf('--model_name') + 1]!;
    const predictor = `${service}-predictor-00001`;
    await waitUntil(`${predictor} asked for a replica`, () => replicas(predictor) > 0, 3_000, 20).catch(() => undefined);
    predictorAtTransformerStart.set(service, replicas(predictor));
    const port = await freePort();
    const host = args.indexOf('--predictor_host');
    args[host + 1] = args[host + 1]!.replace(DEFAULT_GATEWAY_ADDRESS, new URL(gatewayUrl).host);
    args[args.indexOf('--http_port') + 1] = String(port);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const child = spawn(process.execPath, [COMPONENT, ...args], { stdio: ['pipe', 'ignore', 'inherit'], env });
    await waitUntil(`the transformer of ${service} listening`, async () => (await fetch(`http://127.0.0.1:${port}/v1/models/${service}`).catch(() => null))?.ok === true, 10_000, 20);
    return { ip: '127.0.0.1', port, stop: () => stopDemoPod(child) };
  }

  const service = (name: string, annotations: Record<string, string> = {}): Obj => ({
    apiVersion: `${GROUP}/v1beta1`,
    kind: 'InferenceService',
    metadata: { name, namespace: 'default', annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s', ...annotations } },
    spec: {
      predictor: { minReplicas: 0, maxReplicas: 1, model: { modelFormat: { name: 'sklearn' }, runtime: 'sluice-demo', storageUri: 'pvc://models/iris' } },
      transformer: {
        minReplicas: 0,
        maxReplicas: 1,
        containers: [{ name: 'kserve-container', image: 'example.com/t:1', command: ['python', 'transformer.py'], args: ['--role', 'transformer'], env: [{ name: 'LABEL', value: 't1' }] }],
      },
    },
  });

  beforeAll(async () => {
    api = await startTestApiServer({
      kubelet: {
        podRunner: (pod: KubeObject) => {
          const c = (pod as Obj).spec.containers[0] as { args?: string[] };
          return (c.args ?? []).includes('--predictor_host') ? runTransformerPod(c) : runDemoPod(pod);
        },
      },
    });
    redis = await startRedis();
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    objects = kc.makeApiClient(CustomObjectsApi);
    const opts: ClusterRoleOptions = {
      config: resolveServeConfig({ dataHost: '127.0.0.1', dataPort: 0, adminPort: 0, metricsHost: '127.0.0.1', metricsPort: 0, tickSeconds: 0.5, scaleToZeroGraceSeconds: 1, logLevel: 'silent' }),
      kubeconfig: api.kubeconfigPath,
      group: GROUP,
      redisUrl: redis.url,
      runtimes: [join(SLUICE_ROOT, 'examples', 'runtimes')],
      leaseDurationMs: 2000,
      retryPeriodMs: 200,
      logger: silentLogger(),
    };
    roles.push(await startClusterController({ ...opts, identity: 'controller-t' }));
    roles.push(await startClusterAutoscaler({ ...opts, identity: 'autoscaler-t' }));
    const gateway = await startClusterGateway({ ...opts, identity: 'gateway-t' });
    roles.push(gateway);
    gatewayUrl = gateway.dataUrl!;
  }, 60_000);

  afterAll(async () => {
    for (const r of roles.reverse()) await r.close().catch(() => undefined);
    await api?.close();
    await redis?.stop();
  });

  /** Creates the service and waits until the gateway routes its entry (a request for an unknown tag says so). */
  async function deploy(body: Obj): Promise<void> {
    const name = body.metadata.name as string;
    await objects.createNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: 'default', plural: 'inferenceservices', body });
    await waitUntil(`the Deployments of ${name}`, () => api.get('apps/v1', 'Deployment', 'default', `${name}-transformer-00001`) !== undefined, 10_000, 50);
    await waitUntil(
      `the gateway to route ${name}`,
      async () => /has no tag/.test(await (await fetch(`${gatewayUrl}/v1/models/${name}:predict`, { method: 'POST', headers: { 'x-sluice-tag': 'none' }, body: '{}' })).text()),
      10_000,
      50,
    );
    expect(replicas(`${name}-predictor-00001`)).toBe(0);
    expect(replicas(`${name}-transformer-00001`)).toBe(0);
  }

  const predict = (name: string): Promise<Response> =>
    fetch(`${gatewayUrl}/v1/models/${name}:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows: [[6.8, 2.8, 4.8, 1.4]] }) });

  it('one request to a transformer at zero wakes it and its predictor at zero at once, and is answered', async () => {
    await deploy(service('cwake'));
    const res = await predict('cwake');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ transformer: 't1', predictions: [1] });
    // The predictor was asked for a replica before the transformer's pod started: the gateway's poke did it.
    expect(predictorAtTransformerStart.get('cwake')).toBe(1);
    expect(replicas('cwake-transformer-00001')).toBe(1);
    expect(replicas('cwake-predictor-00001')).toBe(1);
  }, 60_000);

  it('with autoscaling.sluice.dev/wake-predictor "false" the predictor waits for the transformer’s own call', async () => {
    await deploy(service('cserial', { 'autoscaling.sluice.dev/wake-predictor': 'false' }));
    const res = await predict('cserial');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ transformer: 't1', predictions: [1] });
    expect(predictorAtTransformerStart.get('cserial')).toBe(0);
    expect(replicas('cserial-predictor-00001')).toBe(1);
  }, 60_000);
});
