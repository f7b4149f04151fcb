import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { AppsV1Api, CoreV1Api, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { startTestApiServer, type KubeObject, type RunningPod, type TestApiServer } from './index.js';

const NS = 'default';

function deployment(name: string, replicas: number, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'example/runtime:1', ports: [{ name: 'http', containerPort: 8080 }], ...extra }] } },
    },
  };
}

function service(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } };
}

interface SliceEndpoint {
  addresses: string[];
  conditions: { ready: boolean; serving: boolean; terminating: boolean };
  targetRef: { name: string };
}

function endpointsOf(server: TestApiServer, svc: string): { port: number | undefined; ep: SliceEndpoint }[] {
  return server
    .list('discovery.k8s.io/v1', 'EndpointSlice', NS)
    .filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc)
    .flatMap((s) => ((s['endpoints'] ?? []) as SliceEndpoint[]).map((ep) => ({ port: (s['ports'] as { port: number }[])[0]?.port, ep })));
}

describe('test kubelet', () => {
  let server: TestApiServer | null = null;
  afterEach(async () => {
    await server?.close();
    server = null;
  });

  it('turns a Deployment into ready pods, status and EndpointSlices, and drains pods on scale-down', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    server = await startTestApiServer({ clock, kubelet: { readyDelayMs: 1000, terminationDelayMs: 5000 } });
    const s = server;
    s.apply(service('iris'));
    s.apply(deployment('iris', 2));
    const pods = await s.waitFor(() => {
      const ps = s.list('v1', 'Pod', NS);
      return ps.length === 2 && ps.every((p) => (p['spec'] as { nodeName?: string }).nodeName === 'node-1') && ps;
    });
    const hash = pods[0]!.metadata.labels!['pod-template-hash']!;
    expect(pods.map((p) => p.metadata.name)).toEqual(pods.map(() => expect.stringMatching(new RegExp(`^iris-${hash}-[a-z0-9]{5}$`))));
    expect(endpointsOf(s, 'iris')).toEqual([]);
    clock.advance(1000);
    await s.waitFor(() => endpointsOf(s, 'iris').filter((e) => e.ep.conditions.ready).length === 2);
    expect(endpointsOf(s, 'iris')[0]!.port).toBe(8080);
    const status = await s.waitFor(() => {
      const st = s.get('apps/v1', 'Deployment', NS, 'iris')!['status'] as Record<string, number>;
      return st['readyReplicas'] === 2 && st;
    });
    expect(status).toMatchObject({ replicas: 2, readyReplicas: 2, availableReplicas: 2, observedGeneration: 1 });

    // Scale to 1 through the scale subresource, as the autoscaler will.
    const kc = new KubeConfig();
    kc.loadFromFile(s.kubeconfigPath);
    await kc.makeApiClient(AppsV1Api).replaceNamespacedDeploymentScale({ name: 'iris', namespace: NS, body: { metadata: { name: 'iris' }, spec: { replicas: 1 } } });
    const draining = await s.waitFor(() => endpointsOf(s, 'iris').find((e) => e.ep.conditions.terminating));
    expect(draining.ep.conditions).toEqual({ ready: false, serving: true, terminating: true });
    clock.advance(5000);
    await s.waitFor(() => s.list('v1', 'Pod', NS).length === 1 && endpointsOf(s, 'iris').length === 1);
    const slices = await kc.makeApiClient(DiscoveryV1Api).listNamespacedEndpointSlice({ namespace: NS, labelSelector: 'kubernetes.io/service-name=iris' });
    expect(slices.items).toHaveLength(1);
    expect(slices.items[0]!.endpoints.map((e) => e.conditions?.ready)).toEqual([true]);

    // Deleting the Deployment collects its pods; deleting the Service collects its slices.
    s.remove('apps/v1', 'Deployment', NS, 'iris');
    await s.waitFor(() => endpointsOf(s, 'iris').every((e) => e.ep.conditions.terminating));
    clock.advance(5000);
    await s.waitFor(() => s.list('v1', 'Pod', NS).length === 0);
    s.remove('v1', 'Service', NS, 'iris');
    await s.waitFor(() => s.list('discovery.k8s.io/v1', 'EndpointSlice', NS).length === 0);
  });

  it('schedules GPU pods only where nodes have allocatable GPUs left', async () => {
    server = await startTestApiServer({ kubelet: { nodes: [{ name: 'gpu-node', allocatable: { cpu: '8', memory: '32Gi', 'nvidia.com/gpu': '1' } }] } });
    const s = server;
    const kc = new KubeConfig();
    kc.loadFromFile(s.kubeconfigPath);
    const node = await kc.makeApiClient(CoreV1Api).readNode({ name: 'gpu-node' });
    expect(node.status?.allocatable?.['nvidia.com/gpu']).toBe('1');
    s.apply(deployment('llm', 2, { resources: { limits: { 'nvidia.com/gpu': '1' } } }));
    const pods = await s.waitFor(() => {
      const ps = s.list('v1', 'Pod', NS);
      const phases = ps.map((p) => (p['status'] as { phase: string }).phase).sort();
      return phases.join() === 'Pending,Running' && ps;
    });
    const pending = pods.find((p) => (p['status'] as { phase: string }).phase === 'Pending')!;
    expect((pending['status'] as { conditions: { reason?: string }[] }).conditions[0]!.reason).toBe('Unschedulable');
  });

  it('runs pods as real local processes when given a podRunner, and the slice carries their ports', async () => {
    const runner = async (): Promise<RunningPod> => {
      const child = spawn(process.execPath, ['-e', "const s=require('http').createServer((q,r)=>r.end('pong')).listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
      return {
        ip: '127.0.0.1',
        port: Number(chunk.toString().trim()),
        stop: async () => {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          await once(child, 'exit');
        },
      };
    };
    server = await startTestApiServer({ kubelet: { podRunner: runner } });
    const s = server;
    s.apply(service('echo'));
    s.apply(deployment('echo', 2));
    const eps = await s.waitFor(() => {
      const e = endpointsOf(s, 'echo').filter((x) => x.ep.conditions.ready);
      return e.length === 2 && e;
    }, 10_000);
    expect(new Set(eps.map((e) => e.port)).size).toBe(2);
    for (const e of eps) {
      const res = await fetch(`http://${e.ep.addresses[0]}:${e.port}/`);
      expect(await res.text()).toBe('pong');
    }
  });
});
