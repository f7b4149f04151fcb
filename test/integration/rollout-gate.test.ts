import { describe, expect, it } from 'vitest';
import { isvc } from '../support/controller-harness.js';
import { fire, gatewayHarness } from '../support/gateway-harness.js';

const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';
// p99 gating is covered by the pure tests; here loopback latency noise on a shared machine must not decide.
const POLICY = '    rollout:\n      steps: [10, 50]\n      dwellSeconds: 10\n      minRequests: 50\n      maxP99Ratio: 50\n';

type Status = {
  conditions: Array<{ type: string; status: string; reason?: string; message?: string }>;
  rollout?: { phase: string; step: number; message: string };
  events: Array<{ type: string; reason: string; message: string }>;
  components: { predictor: { latestRolledoutRevision?: string; traffic: Array<{ revisionName: string; percent: number }> } };
};

describe('progressive delivery gated by real request outcomes (fake clock, real sockets)', () => {
  it('a canary answering 500 on 20 % of requests is rolled back automatically, with the reason in status and an event', async () => {
    const g = await gatewayHarness();
    try {
      await g.controller.apply(isvc('iris', 'gs://m/v1', `    minReplicas: 1\n${POLICY}`), 'api');
      await g.replica(R1, 'v1');
      await g.controller.apply(isvc('iris', 'gs://m/v2', `    minReplicas: 1\n${POLICY}`), 'api');
      await g.replica(R2, 'v2', { errorRate: 0.2 });
      const results = await fire(1000, 20, () => g.predict());
      expect(results.filter((r) => r.label === 'v2').length).toBe(100);
      await g.controller.evaluateRollouts();
      const st = (g.controller.get('default', 'iris') as unknown as { status: Status }).status;
      expect(st.rollout).toMatchObject({ phase: 'RolledBack' });
      const cond = st.conditions.find((c) => c.type === 'RolloutSucceeded');
      expect(cond).toMatchObject({ status: 'False', reason: 'RolledBack' });
      expect(cond!.message).toMatch(/^canary error rate 20\.0% exceeds the stable revision's 0\.0% by 20\.0% \(limit 5\.0%\) over 100 canary and 900 stable requests at step 10%$/);
      expect(st.events.at(-1)).toMatchObject({ type: 'Warning', reason: 'RolloutRolledBack', message: expect.stringContaining(`rolled back ${R2} to ${R1}: canary error rate 20.0%`) });
      expect(st.components.predictor.traffic).toEqual([
        expect.objectContaining({ revisionName: R2, percent: 0 }),
        expect.objectContaining({ revisionName: R1, percent: 100 }),
      ]);
      const after = await fire(200, 20, () => g.predict());
      expect(after.every((r) => r.status === 200 && r.label === 'v1')).toBe(true);
    } finally {
      await g.close();
    }
  }, 30_000);

  it('a healthy canary walks the steps after each dwell and is promoted; sparse traffic holds it', async () => {
    const g = await gatewayHarness();
    try {
      await g.controller.apply(isvc('iris', 'gs://m/v1', `    minReplicas: 1\n${POLICY}`), 'api');
      await g.replica(R1, 'v1');
      await g.controller.apply(isvc('iris', 'gs://m/v2', `    minReplicas: 1\n${POLICY}`), 'api');
      await g.replica(R2, 'v2');
      const status = (): Status => (g.controller.get('default', 'iris') as unknown as { status: Status }).status;
      // Sparse: 10 requests (1 to the canary), an hour later still no evidence → hold at 10 %.
      await fire(10, 5, () => g.predict());
      g.clock.advance(3_600_000);
      await g.controller.evaluateRollouts();
      expect(status().rollout).toMatchObject({ phase: 'Progressing', step: 0, message: 'step 10%: 1/50 canary requests seen; waiting for evidence' });
      await fire(600, 20, () => g.predict());
      await g.controller.evaluateRollouts();
      expect(status().rollout).toMatchObject({ phase: 'Progressing', step: 1 });
      expect(status().components.predictor.traffic.map((t) => [t.revisionName, t.percent])).toEqual([[R2, 50], [R1, 50]]);
      await fire(200, 20, () => g.predict());
      await g.controller.evaluateRollouts();
      expect(status().rollout).toMatchObject({ step: 1, message: 'step 50%: healthy, dwelling 10 s more' });
      g.clock.advance(10_000);
      await g.controller.evaluateRollouts();
      expect(status().rollout).toMatchObject({ phase: 'Succeeded' });
      expect(status().components.predictor).toMatchObject({ latestRolledoutRevision: R2, traffic: [{ revisionName: R2, percent: 100 }] });
    } finally {
      await g.close();
    }
  }, 30_000);
});
