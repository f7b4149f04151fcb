/**
 * `sluice top`: a live view of every InferenceService's revisions, fed from two sources each refresh:
 *
 * - the admin API's list (traffic share, ready/desired replicas, from each service's status), and
 * - the server's `/metrics` (requests, latency histogram, in-flight, held, cold starts, per revision).
 *
 * Rates and percentiles are deltas between samples: req/s and p50/p99 over the last `RATE_WINDOW_MS` of samples,
 * cold starts (requests that waited for their revision to come up from zero, `sluice_cold_starts_total`) over the
 * last minute, or since `top` started when that is shorter. The history is a bounded ring.
 */
import { parsePrometheusText, type Sample } from './prom-text.js';
import { table } from './output.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export const RATE_WINDOW_MS = 10_000;
export const COLD_WINDOW_MS = 60_000;
/** At one sample a second, enough for the cold-start minute plus slack; older samples are dropped. */
const MAX_SAMPLES = 90;

const METRICS = new Set([
  'sluice_requests_total',
  'sluice_request_duration_seconds_bucket',
  'sluice_inflight_requests',
  'sluice_activator_held_requests',
  'sluice_cold_starts_total',
]);

/** One refresh: when it was taken (ms, any monotonic origin), the services and the metrics by revision. */
export interface TopSample {
  at: number;
  services: Obj[];
  revisions: Map<string, RevisionCounters>;
}

interface RevisionCounters {
  requests: number;
  /** cumulative bucket counts by upper bound (seconds), +Inf included */
  buckets: Map<number, number>;
  inflight: number;
  held: number;
  coldStarts: number;
}

export interface TopRow {
  namespace: string;
  service: string;
  revision: string;
  trafficPercent: number;
  requestsPerSecond: number;
  /** null when no request finished in the window */
  p50Ms: number | null;
  p99Ms: number | null;
  inflight: number;
  held: number;
  readyReplicas: number;
  desiredReplicas: number;
  coldStartsLastMinute: number;
}

const key = (ns: string, rev: string): string => `${ns}/${rev}`;

/** Reads one scrape into per-revision counters (summed over status codes). */
export function countersFromMetrics(text: string): Map<string, RevisionCounters> {
  const byRevision = new Map<string, RevisionCounters>();
  const of = (s: Sample): RevisionCounters | undefined => {
    const ns = s.labels.namespace;
    const rev = s.labels.revision;
    if (ns === undefined || rev === undefined) return undefined;
    let c = byRevision.get(key(ns, rev));
    if (!c) {
      c = { requests: 0, buckets: new Map(), inflight: 0, held: 0, coldStarts: 0 };
      byRevision.set(key(ns, rev), c);
    }
    return c;
  };
  for (const s of parsePrometheusText(text, (n) => METRICS.has(n))) {
    const c = of(s);
    if (!c) continue;
    switch (s.name) {
      case 'sluice_requests_total':
        c.requests += s.value;
        break;
      case 'sluice_request_duration_seconds_bucket': {
        const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
        c.buckets.set(le, (c.buckets.get(le) ?? 0) + s.value);
        break;
      }
      case 'sluice_inflight_requests':
        c.inflight += s.value;
        break;
      case 'sluice_activator_held_requests':
        c.held += s.value;
        break;
      case 'sluice_cold_starts_total':
        c.coldStarts += s.value;
        break;
    }
  }
  return byRevision;
}

/**
 * The q-quantile (0..1) of the requests counted between two cumulative histograms, interpolated linearly inside
 * its bucket as Prometheus' histogram_quantile does; null when nothing was counted. In ms.
 */
export function quantileBetween(before: Map<number, number> | undefined, after: Map<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const delta = bounds.map((b) => Math.max(0, (after.get(b) ?? 0) - (before?.get(b) ?? 0)));
  const total = delta[delta.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (delta[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (upper === Infinity) return lower * 1000; // above the last finite bound: say the bound, as Prometheus does
    const below = i === 0 ? 0 : delta[i - 1]!;
    const inBucket = delta[i]! - below;
    const fraction = inBucket > 0 ? (rank - below) / inBucket : 1;
    return (lower + (upper - lower) * fraction) * 1000;
  }
  return null;
}

/** A bounded ring of samples and the rows they give. */
export class TopHistory {
  private readonly samples: TopSample[] = [];

  push(sample: TopSample): void {
    this.samples.push(sample);
    while (this.samples.length > MAX_SAMPLES) this.samples.shift();
    const oldest = sample.at - COLD_WINDOW_MS;
    // keep one sample at or before the minute's start, so the window is a whole minute once there is one
    while (this.samples.length > 2 && this.samples[1]!.at <= oldest) this.samples.shift();
  }

  get size(): number {
    return this.samples.length;
  }

  /** The oldest sample no older than `windowMs` before the newest (or the oldest there is). */
  private base(windowMs: number): TopSample | undefined {
    const last = this.samples[this.samples.length - 1];
    if (!last || this.samples.length < 2) return undefined;
    for (const s of this.samples) if (last.at - s.at <= windowMs && s !== last) return s;
    return this.samples[this.samples.length - 2];
  }

  rows(): TopRow[] {
    const last = this.samples[this.samples.length - 1];
    if (!last) return [];
    const rateBase = this.base(RATE_WINDOW_MS);
    const coldBase = this.base(COLD_WINDOW_MS);
    const rows: TopRow[] = [];
    for (const isvc of last.services) {
      const meta = obj(isvc.metadata);
      const ns = String(meta.namespace ?? 'default');
      const service = String(meta.name ?? '?');
      for (const r of list(obj(isvc.status).revisions)) {
        const revision = String(r.name);
        const now = last.revisions.get(key(ns, revision));
        const then = rateBase?.revisions.get(key(ns, revision));
        const coldThen = coldBase?.revisions.get(key(ns, revision));
        const seconds = rateBase ? (last.at - rateBase.at) / 1000 : 0;
        rows.push({
          namespace: ns,
          service,
          revision,
          trafficPercent: num(r.trafficPercent),
          requestsPerSecond: now && seconds > 0 ? Math.max(0, now.requests - (then?.requests ?? 0)) / seconds : 0,
          p50Ms: now && rateBase ? quantileBetween(then?.buckets, now.buckets, 0.5) : null,
          p99Ms: now && rateBase ? quantileBetween(then?.buckets, now.buckets, 0.99) : null,
          inflight: now?.inflight ?? 0,
          held: now?.held ?? 0,
          readyReplicas: num(r.readyReplicas),
          desiredReplicas: num(r.desiredReplicas),
          coldStartsLastMinute: now && coldBase ? Math.max(0, now.coldStarts - (coldThen?.coldStarts ?? 0)) : 0,
        });
      }
    }
    return rows;
  }
}

const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? v.toFixed(1) : v.toFixed(0));

/** The screen: a title line, then one row per revision. */
export function renderTop(rows: readonly TopRow[], o: { server: string; time: Date; intervalS: number }): string {
  const title = `sluice top  ${o.server}  ${o.time.toISOString().slice(11, 19)} UTC  every ${o.intervalS}s  (q to quit)`;
  if (rows.length === 0) return `${title}\n\nNo InferenceServices.\n`;
  const body = table(
    ['NAMESPACE', 'SERVICE', 'REVISION', 'TRAFFIC', 'REQ/S', 'P50 MS', 'P99 MS', 'INFLIGHT', 'HELD', 'READY', 'COLD/1M'],
    rows.map((r) => [
      r.namespace,
      r.service,
      r.revision,
      `${r.trafficPercent}%`,
      r.requestsPerSecond.toFixed(1),
      ms(r.p50Ms),
      ms(r.p99Ms),
      String(r.inflight),
      String(r.held),
      `${r.readyReplicas}/${r.desiredReplicas}`,
      String(r.coldStartsLastMinute),
    ]),
  );
  return `${title}\n\n${body}`;
}
