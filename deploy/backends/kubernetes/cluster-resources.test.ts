import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { revisionKey } from '../../../api/revision.js';
import { startTestApiServer, type TestApiServer } from '../../../test/kube-apiserver/index.js';
import { sampleRevision } from '../../../test/support/revision-fixture.js';
import { ClusterResources } from './cluster-resources.js';
import { KubernetesBackend } from './kubernetes-backend.js';

describe('ClusterResources against the test API server', () => {
  let server: TestApiServer | null = null;
  let backend: KubernetesBackend | null = null;
  afterEach(async () => {
    await backend?.close();
    await server?.close();
    server = null;
    backend = null;
  });

  it('reports free GPUs per node from allocatable minus scheduled requests, and revision CPU/memory against requests', async () => {
    server = await startTestApiServer({
      kubelet: {
        nodes: [
          { name: 'gpu-a', allocatable: { cpu: '16', memory: '64Gi', 'nvidia.com/gpu': '2' } },
          { name: 'cpu-b', allocatable: { cpu: '8', memory: '32Gi' } },
        ],
      },
    });
    const s = server;
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(s.kubeconfigPath);
    backend = new KubernetesBackend({ kubeConfig });
    const rev = sampleRevision({ gpus: { 'nvidia.com/gpu': 1 } });
    await backend.apply(rev);
    await backend.scale(revisionKey(rev), 1);
    const pod = await s.waitFor(() => s.list('v1', 'Pod', 'default').find((p) => (p['status'] as { phase?: string }).phase === 'Running'));

    const resources = new ClusterResources(kubeConfig);
    expect(await resources.extendedCapacity()).toEqual([{ node: 'gpu-a', resource: 'nvidia.com/gpu', allocatable: 2, requested: 1, free: 1 }]);

    // The sample revision requests 1 cpu and 2Gi per pod.
    s.setPodMetrics('default', pod.metadata.name!, { 'kserve-container': { cpu: '500m', memory: '1Gi' } });
    s.setPodMetrics('default', 'someone-else', { main: { cpu: '4', memory: '4Gi' } });
    const usage = await resources.revisionUsage('default', rev.name);
    expect(usage).toMatchObject({ pods: 1, cpu: 0.5, memoryBytes: 2 ** 30, cpuRequest: 1, memoryRequestBytes: 2 * 2 ** 30 });
    expect(usage.cpuPercent).toBeCloseTo(50);
    expect(usage.memoryPercent).toBeCloseTo(50);
  });
});
