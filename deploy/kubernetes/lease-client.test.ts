import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemClock } from '../../core/clock.js';
import { startTestApiServer, type TestApiServer } from '../../test/kube-apiserver/index.js';
import { waitUntil } from '../../test/support/wait.js';
import { LeaderElector } from './leader-election.js';
import { kubeLeaseClient } from './lease-client.js';

describe('leader election through @kubernetes/client-node', () => {
  let api: TestApiServer;
  beforeAll(async () => {
    api = await startTestApiServer({ kubelet: false });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('two controllers on one Lease: one leads, the other takes over when it stops', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    const leading = new Set<string>();
    let overlap = false;
    const make = (id: string): LeaderElector =>
      new LeaderElector({
        client: kubeLeaseClient(kc, 'default', 'sluice-controller'),
        identity: id,
        clock: new SystemClock(),
        leaseDurationMs: 2000,
        renewDeadlineMs: 1500,
        retryPeriodMs: 200,
        onStartedLeading: () => {
          leading.add(id);
          if (leading.size > 1) overlap = true;
        },
        onStoppedLeading: () => leading.delete(id),
      });
    const a = make('a');
    const b = make('b');
    a.start();
    await waitUntil('a to lead', () => a.isLeader, 5000, 20);
    b.start();
    await new Promise((r) => setTimeout(r, 600));
    expect(b.isLeader).toBe(false);
    const lease = api.get('coordination.k8s.io/v1', 'Lease', 'default', 'sluice-controller') as unknown as { spec: { holderIdentity: string } };
    expect(lease.spec.holderIdentity).toBe('a');
    await a.stop();
    await waitUntil('b to lead', () => b.isLeader, 5000, 20);
    await b.stop();
    expect(overlap).toBe(false);
  });
});
