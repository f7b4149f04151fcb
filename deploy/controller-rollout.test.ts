import { describe, expect, it } from 'vitest';
import { controllerHarness, isvc } from '../test/support/controller-harness.js';

const POLICY = '    rollout:\n      steps: [10, 50]\n';
type Status = { rollout?: { phase: string; message: string }; events: Array<{ reason: string }>; components: { predictor: { traffic: Array<{ revisionName: string; percent: number }> } } };
const status = (h: ReturnType<typeof controllerHarness>): Status => (h.controller.get('default', 'iris') as unknown as { status: Status }).status;

describe('a rollout policy driven by hand', () => {
  it('starts at the first step once the canary is ready; promote ends it as succeeded, rollback as rolled back', async () => {
    const h = controllerHarness();
    await h.controller.apply(isvc('iris', 'gs://m/v1', POLICY), 'api');
    h.backend.markReady('default/iris-predictor-00001');
    await h.controller.apply(isvc('iris', 'gs://m/v2', POLICY), 'api');
    expect(status(h).rollout).toMatchObject({ phase: 'Progressing', message: 'rolling out iris-predictor-00002 over iris-predictor-00001: waiting for it to become ready' });
    h.backend.markReady('default/iris-predictor-00002');
    expect(status(h).components.predictor.traffic.map((t) => [t.revisionName, t.percent])).toEqual([
      ['iris-predictor-00002', 10],
      ['iris-predictor-00001', 90],
    ]);
    // Without outcomes nothing is judged: a policy never promotes without evidence.
    h.clock.advance(3_600_000);
    await h.controller.evaluateRollouts();
    expect(status(h).rollout).toMatchObject({ phase: 'Progressing', message: 'step 10%: 0/50 canary requests seen; waiting for evidence' });
    await h.controller.updateTraffic('default', 'iris', { op: 'promote' });
    expect(status(h).rollout).toMatchObject({ phase: 'Succeeded', message: 'promote by user' });
    expect(status(h).components.predictor.traffic.map((t) => [t.revisionName, t.percent])).toEqual([['iris-predictor-00002', 100]]);

    await h.controller.apply(isvc('iris', 'gs://m/v3', POLICY), 'api');
    h.backend.markReady('default/iris-predictor-00003');
    await h.controller.updateTraffic('default', 'iris', { op: 'rollback' });
    expect(status(h).rollout).toMatchObject({ phase: 'RolledBack', message: 'rollback by user' });
    expect(status(h).components.predictor.traffic.map((t) => [t.revisionName, t.percent])).toEqual([
      ['iris-predictor-00003', 0],
      ['iris-predictor-00002', 100],
    ]);
    // A rolled-back canary can still be promoted by hand.
    await h.controller.updateTraffic('default', 'iris', { op: 'promote' });
    expect(status(h).rollout).toMatchObject({ phase: 'Succeeded', message: 'promote by user' });
    expect(status(h).components.predictor.traffic.map((t) => [t.revisionName, t.percent])).toEqual([['iris-predictor-00003', 100]]);
    expect(status(h).events.map((e) => e.reason)).toContain('RolloutStarted');
  });
});

describe('a rollout policy over shared outcomes (cluster mode)', () => {
  it('holds and says why while the outcomes cannot be read, and advances once they can', async () => {
    let down = true;
    const outcomes = {
      stats: async (key: string) => {
        if (down) throw new Error('redis store at 127.0.0.1:6379: readOutcomes failed: connection refused');
        return key.endsWith('00002') ? { requests: 60, errors: 0, p99Ms: 10 } : { requests: 500, errors: 0, p99Ms: 10 };
      },
    };
    const h = controllerHarness({ outcomes });
    const policy = '    rollout:\n      steps: [10, 50]\n      dwellSeconds: 5\n';
    await h.controller.apply(isvc('iris', 'gs://m/v1', policy), 'api');
    h.backend.markReady('default/iris-predictor-00001');
    await h.controller.apply(isvc('iris', 'gs://m/v2', policy), 'api');
    h.backend.markReady('default/iris-predictor-00002');
    h.clock.advance(10_000);
    await h.controller.evaluateRollouts();
    expect(status(h).rollout).toMatchObject({
      phase: 'Progressing',
      message: 'step 10%: holding, the request outcomes cannot be read: redis store at 127.0.0.1:6379: readOutcomes failed: connection refused',
    });
    down = false;
    await h.controller.evaluateRollouts();
    expect(status(h).rollout).toMatchObject({ phase: 'Progressing', message: 'step 10% healthy (60 requests, error rate 0.0%); moving to 50%' });
    expect(status(h).components.predictor.traffic.map((t) => [t.revisionName, t.percent])).toEqual([
      ['iris-predictor-00002', 50],
      ['iris-predictor-00001', 50],
    ]);
  });
});
