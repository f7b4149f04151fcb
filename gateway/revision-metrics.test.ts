import { describe, expect, it } from 'vitest';
import { SluiceMetrics } from '../core/metrics.js';
import type { RevisionView } from './data-plane.js';
import { RevisionMetricsCache } from './revision-metrics.js';

const view = (): RevisionView => ({
  key: 'default/iris-predictor-00001',
  namespace: 'default',
  service: 'iris',
  name: 'iris-predictor-00001',
  timeoutMs: 1_000,
  modelName: 'iris',
  runtimeModelName: 'iris',
  failed: null,
  proven: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  batcher: null,
  containerConcurrency: 0,
});
const LABELS = { namespace: 'default', service: 'iris', revision: 'iris-predictor-00001' };

async function inflightLine(m: SluiceMetrics): Promise<string | undefined> {
  return (await m.registry.getSingleMetricAsString('sluice_inflight_requests')).split('\n').find((l) => l.includes('iris-predictor-00001'));
}

describe('RevisionMetricsCache', () => {
  it('hands out the same series for the same snapshot view', () => {
    const cache = new RevisionMetricsCache(new SluiceMetrics());
    const v = view();
    expect(cache.of(v)).toBe(cache.of(v));
    expect(cache.of(v).requests(200)).toBe(cache.of(v).requests(200));
  });

  it('counts a revision deleted and created again under the same name into its new, exported series', async () => {
    const m = new SluiceMetrics();
    const cache = new RevisionMetricsCache(m);
    const before = cache.of(view());
    before.inflight.inc();
    expect(await inflightLine(m)).toMatch(/ 1$/);
    m.forgetRevision(LABELS);
    expect(await inflightLine(m)).toBeUndefined();
    // The next snapshot carries a new view of the re-created revision.
    const after = cache.of(view());
    after.inflight.inc();
    after.inflight.inc();
    before.inflight.dec(); // a request of the deleted revision finishing late changes nothing exported
    expect(await inflightLine(m)).toMatch(/ 2$/);
  });
});
