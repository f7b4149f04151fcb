import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect as h2connect, createServer as createH2Server } from 'node:http2';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { revisionKey } from '../../../api/revision.js';
import { startTestApiServer, type KubeObject, type RunningPod, type TestApiServer } from '../../../test/kube-apiserver/index.js';
import { sampleRevision } from '../../../test/support/revision-fixture.js';
import type { EndpointEvent } from '../../../api/backend.js';
import { KubernetesBackend } from './kubernetes-backend.js';
import { waitUntil } from '../../../test/support/wait.js';

/** Each pod is a real Node process answering the v2 health path and an infer call with its own pid. */
async function runPod(pod: KubeObject): Promise<RunningPod> {
  const script = `
    const http = require('http');
    const s = http.createServer((req, res) => {
      if (req.url === '/v2/health/ready') { res.end('{}'); return; }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ pod: process.env.POD_NAME, path: req.url }));
    }).listen(0, '127.0.0.1', () => console.log(s.address().port));
    process.on('SIGTERM', () => s.close(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, POD_NAME: pod.metadata.name } });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  return {
    ip: '127.0.0.1',
    port: Number(chunk.toString().trim()),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** A pod serving HTTP/1.1 (its `http` port) and HTTP/2 cleartext (its `h2c` port), as a gRPC runtime does. */
async function runPodWithGrpc(pod: KubeObject): Promise<RunningPod> {
  const http = await runPod(pod);
  const h2 = createH2Server((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ pod: pod.metadata.name, protocol: 'h2c' }));
  });
  await new Promise<void>((resolve) => h2.listen(0, '127.0.0.1', resolve));
  const h2Port = (h2.address() as { port: number }).port;
  return {
    ip: http.ip,
    port: http.port,
    ports: { http: http.port, h2c: h2Port },
    async stop() {
      await http.stop();
      await new Promise<void>((resolve) => h2.close(() => resolve()));
    },
  };
}

/** waitUntil, polling every 10 ms, with `null` also meaning "not yet". */
function until<T>(probe: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  return waitUntil('condition', () => probe() ?? undefined, timeoutMs, 10);
}

describe('KubernetesBackend against the test API server', () => {
  let server: TestApiServer | null = null;
  const backends: KubernetesBackend[] = [];

  afterEach(async () => {
    for (const b of backends.splice(0)) await b.close();
    await server?.close();
    server = null;
  });

  async function setup(): Promise<{ s: TestApiServer; backend: KubernetesBackend; events: EndpointEvent[]; newBackend: () => KubernetesBackend }> {
    server = await startTestApiServer({ kubelet: { podRunner: runPod } });
    const s = server;
    const newBackend = () => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(s.kubeconfigPath);
      const b = new KubernetesBackend({ kubeConfig, restartBackoffMs: { initial: 20, max: 200 } });
      backends.push(b);
      return b;
    };
    const backend = newBackend();
    const events: EndpointEvent[] = [];
    backend.subscribe((e) => events.push(e));
    await backend.start();
    return { s, backend, events, newBackend };
  }

  it('applies a revision at zero, scales it through the scale subresource, routes to real pods, drains and removes them', async () => {
    const { s, backend, events } = await setup();
    const rev = sampleRevision({ autoscaling: { ...sampleRevision().autoscaling, initialScale: 0 } });
    const key = revisionKey(rev);
    await backend.apply(rev);
    expect((await backend.listRevisions()).map((r) => r.name)).toEqual([rev.name]);
    const d = s.get('apps/v1', 'Deployment', 'default', rev.name)!;
    expect((d['spec'] as { replicas: number }).replicas).toBe(0);
    expect(s.get('v1', 'Service', 'default', rev.name)).toBeDefined();
    // The NetworkPolicy arrives as YAML spells it (`from`, not the client model's `_from`).
    const policy = s.get('networking.k8s.io/v1', 'NetworkPolicy', 'default', rev.name)!;
    expect((policy['spec'] as { ingress: Array<{ from: unknown[] }> }).ingress[0]!.from).toHaveLength(1);
    expect(backend.endpoints(key)).toEqual([]);
    expect(backend.counts(key)).toEqual({ desired: 0, starting: 0, ready: 0 });

    await backend.scale(key, 2);
    await until(() => backend.endpoints(key).length === 2);
    await until(() => backend.counts(key).ready === 2);
    expect(backend.counts(key)).toEqual({ desired: 2, starting: 0, ready: 2 });
    const eps = backend.endpoints(key);
    expect(eps.every((e) => e.capacity === 4 && e.revisionKey === key && /^http:\/\/127\.0\.0\.1:\d+$/.test(e.url))).toBe(true);
    const answers = await Promise.all(eps.map(async (e) => ((await (await fetch(`${e.url}/v2/models/iris/infer`, { method: 'POST' })).json()) as { pod: string }).pod));
    expect(new Set(answers).size).toBe(2);
    expect(events.filter((e) => e.type === 'ready')).toHaveLength(2);

    // Replicas were written only through /scale; the Deployment itself was written once (create).
    const writes = s.requestLog().filter((r) => r.method !== 'GET' && r.path.includes(`/deployments/${rev.name}`));
    expect(writes.map((r) => `${r.method} ${r.path.split('?')[0]}`)).toEqual([`PUT /apis/apps/v1/namespaces/default/deployments/${rev.name}/scale`]);

    // Re-applying the same revision keeps the replicas the autoscaler set.
    await backend.apply(rev);
    expect((s.get('apps/v1', 'Deployment', 'default', rev.name)!['spec'] as { replicas: number }).replicas).toBe(2);

    await backend.scale(key, 1);
    await until(() => events.some((e) => e.type === 'removed'));
    const drained = events.find((e) => e.type === 'draining' || e.type === 'removed')!;
    expect(drained.type).toBe('draining');
    expect(backend.endpoints(key)).toHaveLength(1);
    await until(() => backend.counts(key).ready === 1 && backend.counts(key).desired === 1);

    await backend.remove(key);
    await until(() => events.filter((e) => e.type === 'removed').length === 2);
    expect(backend.endpoints(key)).toEqual([]);
    await until(() => s.list('v1', 'Pod', 'default').length === 0);
    expect(s.get('v1', 'Service', 'default', rev.name)).toBeUndefined();
    expect(s.get('networking.k8s.io/v1', 'NetworkPolicy', 'default', rev.name)).toBeUndefined();
  });

  it('lets a fresh backend (a gateway, a restarted autoscaler) discover endpoints and capacity without apply()', async () => {
    const { backend, newBackend } = await setup();
    const rev = sampleRevision({ containerConcurrency: 7 });
    const key = revisionKey(rev);
    await backend.apply(rev);
    await backend.scale(key, 1);
    await until(() => backend.endpoints(key).length === 1);
    const reader = newBackend();
    await reader.start();
    await until(() => reader.endpoints(key).length === 1);
    expect(reader.endpoints(key)[0]!.capacity).toBe(7);
    expect(reader.counts(key)).toEqual({ desired: 1, starting: 0, ready: 1 });
  });

  it("gives each endpoint its runtime's readiness path (from the revision on the Deployment), for the gateway's probe", async () => {
    const { backend } = await setup();
    const cases: Array<[Parameters<typeof sampleRevision>[0], string | undefined]> = [
      [{ name: 'oip-predictor-00001' }, '/v2/health/ready'],
      [{ name: 'v1-predictor-00001', runtimeModelName: 'flowers', runtime: { name: 'kserve-sklearnserver', kind: 'ClusterServingRuntime', protocolVersion: 'v1' } }, '/v1/models/flowers'],
      [{ name: 'ts-predictor-00001', runtime: { name: 'kserve-torchserve', kind: 'ClusterServingRuntime', protocolVersion: 'v1' } }, '/ping'],
      [{ name: 'custom-predictor-00001', runtime: { name: 'custom', kind: 'custom', protocolVersion: 'v1' } }, undefined],
    ];
    for (const [over, path] of cases) {
      const rev = sampleRevision(over);
      const key = revisionKey(rev);
      await backend.apply(rev);
      await backend.scale(key, 1);
      await until(() => backend.endpoints(key).length === 1);
      expect(backend.endpoints(key)[0]!.readinessPath, rev.name).toBe(path);
    }
  });

  it('recovers from a watch that expires (410 Gone) or breaks, without missing endpoint changes', async () => {
    const { s, backend } = await setup();
    const rev = sampleRevision();
    const key = revisionKey(rev);
    await backend.apply(rev);
    s.expireWatches();
    await backend.scale(key, 1);
    await until(() => backend.endpoints(key).length === 1);
    s.dropWatches();
    await backend.scale(key, 2);
    await until(() => backend.endpoints(key).length === 2);
    await until(() => backend.counts(key).ready === 2);
  });

  it('serves a declared gRPC port (h2c) beside HTTP and announces it as Endpoint.grpcUrl', async () => {
    server = await startTestApiServer({ kubelet: { podRunner: runPodWithGrpc } });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.kubeconfigPath);
    const backend = new KubernetesBackend({ kubeConfig, restartBackoffMs: { initial: 20, max: 200 } });
    backends.push(backend);
    await backend.start();
    const base = sampleRevision();
    const rev = sampleRevision({
      name: 'grpc-predictor-00001',
      container: { ...base.container, ports: [{ name: 'h2c', containerPort: 8081, protocol: 'TCP' }] },
    });
    const key = revisionKey(rev);
    await backend.apply(rev);
    const d = server.get('apps/v1', 'Deployment', 'default', rev.name)!;
    const containers = (d['spec'] as { template: { spec: { containers: Array<{ ports: unknown[] }> } } }).template.spec.containers;
    expect(containers[0]!.ports).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'h2c', containerPort: 8081, protocol: 'TCP' },
    ]);
    const svc = server.get('v1', 'Service', 'default', rev.name)!;
    expect((svc['spec'] as { ports: Array<{ name: string }> }).ports.map((p) => p.name)).toEqual(['http', 'h2c']);

    await backend.scale(key, 1);
    const ep = await until(() => backend.endpoints(key)[0]);
    expect(ep.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ep.grpcUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ep.grpcUrl).not.toBe(ep.url);
    // The gRPC address reaches the pod's HTTP/2 cleartext server, the HTTP one its HTTP/1.1 server.
    const h2 = await new Promise<string>((resolve, reject) => {
      const session = h2connect(ep.grpcUrl!);
      session.on('error', reject);
      const req = session.request({ ':path': '/inference.GRPCInferenceService/ServerLive', ':method': 'POST', 'content-type': 'application/grpc' });
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        session.close();
        resolve(body);
      });
      req.end();
    });
    expect(JSON.parse(h2)).toMatchObject({ protocol: 'h2c' });
    const http1 = (await (await fetch(`${ep.url}/v2/models/iris/infer`, { method: 'POST' })).json()) as { pod: string };
    expect(http1.pod).toMatch(/^grpc-predictor-00001-/);
    await backend.remove(key);
  });

  it('rejects a scale for a revision that was never applied', async () => {
    const { backend } = await setup();
    await expect(backend.scale('default/nope-predictor-00001', 1)).rejects.toMatchObject({ code: 404 });
    await expect(backend.scale('default/x', -1)).rejects.toThrow('non-negative');
  });
});
