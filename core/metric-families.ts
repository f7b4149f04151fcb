import type { Registry } from 'prom-client';

/**
 * Metrics for the request path. prom-client hashes the label set on every `inc`/`observe`, even through a
 * `labels()` child; at saturation that was several percent of the gateway's CPU. A family here hands out
 * children that are plain numbers: callers look a child up once (per revision) and then update fields; the
 * registry reads the numbers only when /metrics is scraped. The text format is prom-client's own (the family
 * registers as a custom metric on the same registry).
 */

type MetricType = 'counter' | 'gauge' | 'histogram';

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/**
 * How `sluice serve --workers N` merges a series over its processes (prom-client's AggregatorRegistry names):
 * counters and histograms are summed; a 0/1 state gauge takes the largest.
 */
export type MetricAggregator = 'sum' | 'max';

interface MetricSnapshot {
  name: string;
  help: string;
  type: MetricType;
  values: MetricValue[];
  aggregator: MetricAggregator;
}

/** The most series one family keeps; beyond it the oldest child is dropped (and stops being exported). */
const DEFAULT_MAX_SERIES = 100_000;

/** What every child carries: the labels of its series (the caller's object, kept by reference). */
interface Labelled {
  readonly labels: Record<string, string>;
}

abstract class Family<L extends string, C extends Labelled> {
  private readonly children = new Map<string, C>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    private readonly labelNames: readonly L[],
    registry: Registry,
    private readonly maxSeries = DEFAULT_MAX_SERIES,
    private readonly aggregator: MetricAggregator = 'sum',
  ) {
    // prom-client's registry accepts any object with name, type and get(); `registerMetric` is typed for its own.
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /**
   * The child for these labels, made on first use (it keeps `labels` by reference: do not change the object).
   * Look it up once and keep it; updates then cost nothing.
   */
  labels(labels: Record<L, string>): C {
    const key = this.key(labels);
    const found = this.children.get(key);
    if (found) return found;
    if (this.children.size >= this.maxSeries) {
      const oldest = this.children.keys().next().value;
      if (oldest !== undefined) this.children.delete(oldest);
    }
    const child = this.create(labels);
    this.children.set(key, child);
    return child;
  }

  /** Stops exporting a series (its child, if someone still holds it, is no longer read). */
  remove(labels: Record<L, string>): void {
    this.children.delete(this.key(labels));
  }

  reset(): void {
    this.children.clear();
  }

  get(): Promise<MetricSnapshot> {
    const values: MetricValue[] = [];
    for (const child of this.children.values()) this.collect(child, values);
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator });
  }

  protected abstract create(labels: Record<L, string>): C;
  protected abstract collect(child: C, into: MetricValue[]): void;

  private key(labels: Record<L, string>): string {
    let k = '';
    for (const n of this.labelNames) {
      const v = labels[n];
      if (typeof v !== 'string') throw new Error(`metric ${this.name}: label "${n}" is missing`);
      k += `${v}\u0000`;
    }
    return k;
  }
}

export class CounterChild {
  value = 0;

  constructor(readonly labels: Record<string, string>) {}

  inc(by = 1): void {
    this.value += by;
  }
}

export class CounterFamily<L extends string> extends Family<L, CounterChild> {
  constructor(o: { name: string; help: string; labelNames: readonly L[]; registry: Registry; maxSeries?: number }) {
    super(o.name, o.help, 'counter', o.labelNames, o.registry, o.maxSeries);
  }

  protected create(labels: Record<L, string>): CounterChild {
    return new CounterChild(labels);
  }

  protected collect(child: CounterChild, into: MetricValue[]): void {
    into.push({ labels: child.labels, value: child.value });
  }
}

export class GaugeChild {
  value = 0;

  constructor(readonly labels: Record<string, string>) {}

  inc(by = 1): void {
    this.value += by;
  }

  dec(by = 1): void {
    this.value -= by;
  }

  set(v: number): void {
    this.value = v;
  }
}

export class GaugeFamily<L extends string> extends Family<L, GaugeChild> {
  constructor(o: { name: string; help: string; labelNames: readonly L[]; registry: Registry; maxSeries?: number; aggregator?: MetricAggregator }) {
    super(o.name, o.help, 'gauge', o.labelNames, o.registry, o.maxSeries, o.aggregator);
  }

  /** Sets one series (a lookup per call: for rare updates; hot callers keep the child from `labels`). */
  set(labels: Record<L, string>, v: number): void {
    this.labels(labels).value = v;
  }

  protected create(labels: Record<L, string>): GaugeChild {
    return new GaugeChild(labels);
  }

  protected collect(child: GaugeChild, into: MetricValue[]): void {
    into.push({ labels: child.labels, value: child.value });
  }
}

export class HistogramChild {
  /** Observations per bucket (not cumulative); the last slot is above the highest bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

export class HistogramFamily<L extends string> extends Family<L, HistogramChild> {
  private readonly bounds: readonly number[];

  constructor(o: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registry: Registry; maxSeries?: number }) {
    super(o.name, o.help, 'histogram', o.labelNames, o.registry, o.maxSeries);
    const sorted = [...o.buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1])))
      throw new Error(`metric ${o.name}: buckets must be distinct finite numbers, got ${JSON.stringify(o.buckets)}`);
    this.bounds = sorted;
  }

  protected create(labels: Record<L, string>): HistogramChild {
    return new HistogramChild(labels, this.bounds);
  }

  protected collect(child: HistogramChild, into: MetricValue[]): void {
    const labels = child.labels;
    let cumulative = 0;
    for (let i = 0; i < this.bounds.length; i++) {
      cumulative += child.counts[i]!;
      into.push({ labels: { le: this.bounds[i]!, ...labels }, value: cumulative, metricName: `${this.name}_bucket` });
    }
    into.push({ labels: { le: '+Inf', ...labels }, value: child.count, metricName: `${this.name}_bucket` });
    into.push({ labels, value: child.sum, metricName: `${this.name}_sum` });
    into.push({ labels, value: child.count, metricName: `${this.name}_count` });
  }
}

/** A gauge whose values are read from live state at scrape time (e.g. each replica's in-flight count). */
export class LiveGauge<L extends string> {
  readonly type = 'gauge';
  private readonly sources = new Set<() => Iterable<{ labels: Record<L, string>; value: number }>>();

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** Adds a source of series; returns a function that removes it. */
  source(read: () => Iterable<{ labels: Record<L, string>; value: number }>): () => void {
    this.sources.add(read);
    return () => this.sources.delete(read);
  }

  reset(): void {
    // nothing is stored: the sources are the state
  }

  get(): Promise<MetricSnapshot> {
    const values: MetricValue[] = [];
    for (const read of this.sources) for (const s of read()) values.push({ labels: s.labels, value: s.value });
    return Promise.resolve({ name: this.name, help: this.help, type: 'gauge', values, aggregator: 'sum' });
  }
}
