import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { startTestApiServer, type TestApiServer } from '../../test/kube-apiserver/index.js';
import { ClusterResources } from '../backends/kubernetes/cluster-resources.js';
import { ClusterUsage } from './cluster-usage.js';

describe('ClusterUsage against the test API server', () => {
  let api: TestApiServer;
  beforeAll(async () => {
    api = await startTestApiServer({
      kubelet: { nodes: [{ name: 'gpu-1', allocatable: { cpu: '8', memory: '32Gi', pods: '110', 'nvidia.com/gpu': '2' } }] },
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('reads GPU capacity from nodes minus what pods request', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    api.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'other', namespace: 'default' },
      spec: { nodeName: 'gpu-1', containers: [{ name: 'c', image: 'x', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
    } as never);
    const u = new ClusterUsage({ resources: new ClusterResources(kc), clock: new FakeClock(0), logger: silentLogger() });
    u.track('default/r-predictor-00001', { gpus: { 'nvidia.com/gpu': 1 }, replicas: () => 0, cpuMemory: false });
    await u.refresh();
    expect(u.capacity('nvidia.com/gpu')).toBe(2);
    expect(u.allocated('nvidia.com/gpu')).toBe(1);
    expect(u.allocated('nvidia.com/gpu', 'default/r-predictor-00001')).toBe(0);
  });
});
