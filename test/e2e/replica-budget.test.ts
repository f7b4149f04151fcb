import { afterEach, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { LocalBackend } from '../../deploy/backends/local/local-backend.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface RevisionStatus {
  name: string;
  pendingReplicas?: number;
  conditions?: Condition[];
}
interface Status {
  conditions: Condition[];
  revisions: RevisionStatus[];
}

const scaleToZero = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };

function predict(s: Embedded, model: string): Promise<{ status: number; body: unknown }> {
  return fetch(`${s.dataUrl}/v1/models/${model}:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) }).then(
    async (r) => ({ status: r.status, body: await r.json() }),
  );
}

function status(s: Embedded, name: string): Status {
  return (s.controller.get('default', name) as unknown as { status: Status }).status;
}

function budgetCondition(st: Status): Condition | undefined {
  return st.revisions[0]?.conditions?.find((c) => c.type === 'ResourcesAvailable');
}

describe('the global replica budget with real replicas', () => {
  let s: Embedded | null = null;
  afterEach(async () => {
    await s?.close();
    s = null;
  });

  it('budget 1, two services: the second holds its request until the first scales to zero, then is served', async () => {
    const dir = configFolder({ 'a.yaml': demoService('a', { annotations: scaleToZero }), 'b.yaml': demoService('b', { annotations: scaleToZero }) });
    s = await startTestSluice(dir, { maxReplicasTotal: 1, scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 });
    const sluice = s;
    const local = sluice.backend;
    if (!(local instanceof LocalBackend)) throw new Error('expected the local backend');
    let maxProcesses = 0;
    const watch = setInterval(() => (maxProcesses = Math.max(maxProcesses, local.pids().length)), 20);
    try {
      expect(await predict(sluice, 'a')).toMatchObject({ status: 200, body: { predictions: [1] } });
      const held = predict(sluice, 'b');
      const pending = await waitUntil('b pending for the budget', () => {
        const c = budgetCondition(status(sluice, 'b'));
        return c?.status === 'False' ? c : undefined;
      });
      expect(pending).toEqual({
        type: 'ResourcesAvailable',
        status: 'False',
        reason: 'ReplicaBudgetExhausted',
        message: '1 of 1 replicas in use (maxReplicasTotal); 1 pending for this revision, 1 in all',
      });
      expect(status(sluice, 'b').revisions[0]!.pendingReplicas).toBe(1);
      // Said at the service's top level too, and in /metrics.
      expect(status(sluice, 'b').conditions.find((c) => c.type === 'ResourcesAvailable')).toMatchObject({ status: 'False', reason: 'ReplicaBudgetExhausted' });
      const metrics = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
      expect(metricValue(metrics, 'sluice_local_replicas_pending')).toBe(1);
      expect(metricValue(metrics, 'sluice_local_replica_budget_in_use', { resource: 'replicas' })).toBe(1);
      expect(metricValue(metrics, 'sluice_local_replica_budget_limit', { resource: 'replicas' })).toBe(1);
      expect(metricValue(metrics, 'sluice_local_replica_admissions_deferred_total')).toBe(1);

      // a goes idle and scales to zero (a stable window plus the grace after its request); b's replica starts then.
      expect(await held).toMatchObject({ status: 200, body: { predictions: [1] } });
      expect(sluice.backend.counts('default/a-predictor-00001')).toMatchObject({ desired: 0, ready: 0, starting: 0 });
      expect(budgetCondition(status(sluice, 'b'))).toMatchObject({ status: 'True', reason: 'ReplicasAdmitted' });
      expect(status(sluice, 'b').revisions[0]!.pendingReplicas).toBeUndefined();
      expect(maxProcesses).toBe(1);
    } finally {
      clearInterval(watch);
    }
  }, 60_000);
});
