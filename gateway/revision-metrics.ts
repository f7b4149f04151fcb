import type { CounterChild, GaugeChild, HistogramChild } from '../core/metric-families.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { RevisionView } from './data-plane.js';

/** The per-request metric series of one revision, looked up once instead of hashing labels on every request. */
export interface RevisionSeries {
  inflight: GaugeChild;
  duration: HistogramChild;
  coldStarts: CounterChild;
  coldStartSeconds: HistogramChild;
  requests(code: number): CounterChild;
}

/**
 * A bounded cache of label children per revision (emptied when it outgrows `max`, then refilled on use). An
 * entry is kept only while the data-plane snapshot's view of the revision is the same object: a new snapshot
 * looks the children up again (once per revision), so a revision deleted and created again under the same
 * name counts into its new series, not into the ones `forgetRevision` dropped.
 */
export class RevisionMetricsCache {
  private readonly byRevision = new Map<string, RevisionSeries & { view: RevisionView }>();

  constructor(
    private readonly metrics: SluiceMetrics,
    private readonly max = 10_000,
  ) {}

  of(rev: RevisionView): RevisionSeries {
    let s = this.byRevision.get(rev.key);
    if (s?.view === rev) return s;
    if (this.byRevision.size >= this.max) this.byRevision.clear();
    const m = this.metrics;
    const labels = { namespace: rev.namespace, service: rev.service, revision: rev.name };
    const codes = new Map<number, CounterChild>();
    s = {
      view: rev,
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
