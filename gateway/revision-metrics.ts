import type { Counter, Gauge, Histogram } from 'prom-client';
import type { SluiceMetrics } from '../core/metrics.js';
import type { RevisionView } from './data-plane.js';

/** The per-request metric series of one revision, looked up once instead of hashing labels on every request. */
export interface RevisionSeries {
  inflight: Gauge.Internal<'namespace' | 'service' | 'revision'>;
  duration: Histogram.Internal<'namespace' | 'service' | 'revision'>;
  coldStarts: Counter.Internal;
  coldStartSeconds: Histogram.Internal<'namespace' | 'service' | 'revision'>;
  requests(code: number): Counter.Internal;
}

/** A bounded cache of label children per revision (emptied when it outgrows `max`, then refilled on use). */
export class RevisionMetricsCache {
  private readonly byRevision = new Map<string, RevisionSeries>();

  constructor(
    private readonly metrics: SluiceMetrics,
    private readonly max = 10_000,
  ) {}

  of(rev: RevisionView): RevisionSeries {
    let s = this.byRevision.get(rev.key);
    if (s) return s;
    if (this.byRevision.size >= this.max) this.byRevision.clear();
    const m = this.metrics;
    const labels = { namespace: rev.namespace, service: rev.service, revision: rev.name };
    const codes = new Map<number, Counter.Internal>();
    s = {
      inflight: m.inflight.labels(labels),
      duration: m.requestDuration.labels(labels),
      coldStarts: m.coldStartsTotal.labels(labels),
      coldStartSeconds: m.coldStartSeconds.labels(labels),
      requests(code) {
        let c = codes.get(code);
        if (!c) {
          c = m.requestsTotal.labels({ ...labels, code: String(code) });
          if (codes.size < 64) codes.set(code, c);
        }
        return c;
      },
    };
    this.byRevision.set(rev.key, s);
    return s;
  }
}
