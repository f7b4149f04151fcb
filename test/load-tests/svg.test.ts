import { describe, expect, it } from 'vitest';
import { barChart, escapeXml, lineChart, logTicks, niceTicks, stackedLineChart } from '../../load-tests/report/svg.js';

describe('svg charts', () => {
  it('draws one bar per finite value, with the category and series in its tooltip', () => {
    const svg = barChart({
      title: 'Throughput <GET & POST>',
      yLabel: 'req/s',
      categories: ['direct', 'nginx'],
      series: [
        { name: 'GET', values: [40_000, 25_000] },
        { name: 'POST', values: [30_000, Number.NaN] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<rect x=/g)).toHaveLength(3 + 2); // three bars + two legend swatches
    expect(svg).toContain('<title>nginx · GET: 25k</title>');
    expect(svg).toContain('Throughput &lt;GET &amp; POST&gt;');
  });

  it('draws one path per series that has points', () => {
    const svg = lineChart({
      title: 'per second',
      xLabel: 's',
      yLabel: 'req/s',
      series: [
        { name: 'a', points: [[1, 10], [2, 12]] },
        { name: 'empty', points: [] },
      ],
    });
    expect(svg.match(/<path d="M/g)).toHaveLength(1);
  });

  it('picks round ticks that cover the maximum', () => {
    expect(niceTicks(43_000)).toEqual([0, 10_000, 20_000, 30_000, 40_000, 50_000]);
    expect(niceTicks(0.8)).toEqual([0, 0.2, 0.4, 0.6, 0.8]);
    expect(niceTicks(0)).toEqual([0, 1]);
    expect(escapeXml(`a"b'c`)).toBe('a&quot;b&apos;c');
  });

  it('spans latencies from a fraction of a millisecond to seconds on a log axis', () => {
    expect(logTicks(0.3, 1_500)).toEqual([0.1, 1, 10, 100, 1_000, 10_000]);
    const svg = barChart({ title: 't', yLabel: 'ms', logScale: true, categories: ['a'], series: [{ name: 'p50', values: [1] }] });
    expect(svg).toContain('ms (log scale)');
    expect(svg).toContain('<title>a · p50: 1</title>');
  });

  it('draws counts as steps on whole-number ticks in a stacked panel', () => {
    const svg = stackedLineChart({
      title: 'held and replicas',
      xLabel: 's',
      panels: [
        { yLabel: 'requests', series: [{ name: 'held', points: [[0, 0], [1, 1000], [3, 0]] }] },
        { yLabel: 'replicas', integer: true, series: [{ name: 'ready', step: true, points: [[0, 0], [2, 1], [3, 1]] }] },
      ],
      markers: [{ x: 2, label: 'announced' }],
    });
    expect(svg.match(/<path d="M/g)).toHaveLength(2);
    expect(svg).toMatch(/<path d="M[\d.]+,[\d.]+ H[\d.]+ V[\d.]+ /);
    expect(svg).toContain('>announced</text>');
    // the replicas axis reads 0 and 1 (no 0.2, 0.4 … for a count of replicas)
    expect(svg).not.toMatch(/>0\.2</);
  });
});

describe('stacked line charts', () => {
  it('draws one panel per unit over a shared x axis, with dashed markers labelled once', () => {
    const svg = stackedLineChart({
      title: 'a step',
      xLabel: 's',
      markers: [{ x: 5, label: 'step' }],
      panels: [
        { yLabel: 'req/s', series: [{ name: 'demand', points: [[0, 64], [10, 384]] }] },
        { yLabel: '%', yMax: 100, series: [{ name: 'share', points: [[0, 10], [10, 150]] }] },
      ],
    });
    expect(svg.match(/<path d="M/g)).toHaveLength(2);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(2); // the marker crosses both panels
    expect(svg.match(/>step<\/text>/g)).toHaveLength(1);
    expect(svg).toContain('>100</text>'); // the fixed top of the percentage axis
    expect(svg).not.toContain('>120</text>'); // a value above it is clipped, not rescaled
  });
});
