import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterFamily, GaugeFamily, HistogramFamily, LiveGauge } from './metric-families.js';

/** The exposition text of one metric on a registry, with its name replaced so two can be compared. */
async function text(registry: Registry, name: string): Promise<string> {
  return (await registry.getSingleMetricAsString(name)).replaceAll(name, 'm');
}

describe('metric families', () => {
  it('export exactly what prom-client exports for the same counts, gauges and observations', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const labelNames = ['revision', 'code'] as const;
    const c1 = new CounterFamily({ name: 'c', help: 'h', labelNames, registry: ours });
    const c2 = new Counter({ name: 'c', help: 'h', labelNames, registers: [theirs] });
    const g1 = new GaugeFamily({ name: 'g', help: 'h', labelNames, registry: ours });
    const g2 = new Gauge({ name: 'g', help: 'h', labelNames, registers: [theirs] });
    const buckets = [0.001, 0.01, 0.1, 1];
    const h1 = new HistogramFamily({ name: 'h', help: 'h', labelNames, buckets, registry: ours });
    const h2 = new Histogram({ name: 'h', help: 'h', labelNames, buckets, registers: [theirs] });
    for (const [rev, code, v] of [['a', '200', 0.0005], ['a', '200', 0.01], ['b', '503', 0.5], ['a', '200', 7], ['b', '503', 0.1]] as const) {
      const labels = { revision: rev, code };
      c1.labels(labels).inc();
      c2.inc(labels);
      g1.labels(labels).inc(2);
      g1.labels(labels).dec();
      g2.inc(labels, 2);
      g2.dec(labels);
      h1.labels(labels).observe(v);
      h2.observe(labels, v);
    }
    for (const name of ['c', 'g', 'h']) expect(await text(ours, name)).toBe(await text(theirs, name));
    expect(await ours.getSingleMetricAsString('h')).toContain('h_bucket{le="0.01",revision="a",code="200"} 2');
  });

  it('stops exporting a removed series, names a missing label, and drops the oldest series past its bound', async () => {
    const registry = new Registry();
    const g = new GaugeFamily({ name: 'g', help: 'h', labelNames: ['revision'], registry, maxSeries: 2 });
    g.labels({ revision: 'a' }).set(1);
    g.labels({ revision: 'b' }).set(2);
    g.remove({ revision: 'b' });
    expect(await registry.getSingleMetricAsString('g')).not.toContain('revision="b"');
    g.labels({ revision: 'c' }).set(3);
    g.labels({ revision: 'd' }).set(4);
    const out = await registry.getSingleMetricAsString('g');
    expect(out).not.toContain('revision="a"');
    expect(out).toContain('g{revision="d"} 4');
    expect(() => g.labels({} as { revision: string })).toThrow('metric g: label "revision" is missing');
  });

  it('reads a live gauge from its sources at scrape time', async () => {
    const registry = new Registry();
    const live = new LiveGauge<'replica'>('inflight', 'h', registry);
    let n = 1;
    const stop = live.source(() => [{ labels: { replica: 'r1' }, value: n }]);
    n = 5;
    expect(await registry.getSingleMetricAsString('inflight')).toContain('inflight{replica="r1"} 5');
    stop();
    expect(await registry.getSingleMetricAsString('inflight')).not.toContain('r1');
  });
});
