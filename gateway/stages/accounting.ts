import type { Collector } from '../../autoscaler/collector.js';
import type { Clock } from '../../core/clock.js';
import type { SluiceMetrics } from '../../core/metrics.js';
import type { Exchange } from '../exchange.js';
import type { OutcomeSink } from '../shared-outcomes.js';
import { RevisionMetricsCache } from '../revision-metrics.js';
import type { HeaderBag, Stage } from '../stage.js';

/** Response header with the milliseconds a cold start's request waited, arrival to response start. */
export const COLD_START_HEADER = 'x-sluice-cold-start';

export interface AccountingDeps {
  clock: Clock;
  metrics: SluiceMetrics;
  /** Demand for the autoscaler: in-flight requests and completions per revision. */
  collector: Collector;
  /** Per-revision request outcomes for rollout policies (see docs/traffic.md): in-process, or flushed to the Store. */
  outcomes?: OutcomeSink;
}

/**
 * What every request to a revision counts, exactly once:
 * - admitted (`onAdmitted` … `onDone`): the collector's begin and end (demand), the revision's in-flight
 *   gauge, its requests by code, its duration, its cold starts (count, seconds, and the `x-sluice-cold-start`
 *   response header) and the rollout outcome;
 * - refused by a stage after routing: its requests by code only; it is not demand and has no duration.
 * Requests with no revision (unrouted, refused on arrival) count nowhere here.
 */
export class Accounting implements Stage {
  readonly name = 'accounting';
  private readonly series: RevisionMetricsCache;

  constructor(private readonly d: AccountingDeps) {
    this.series = new RevisionMetricsCache(d.metrics);
  }

  onAdmitted(ex: Exchange): void {
    const rev = ex.rev!;
    // Admitted in its arrival's run (every stage synchronous), the request's arrival is the time now.
    this.d.collector.begin(rev.key, ex.sameRun ? ex.arrival : undefined);
    this.series.of(rev).inflight.inc();
  }

  /** Only a cold start's answer gets a header (and its observation). */
  wantsResponseStart(ex: Exchange): boolean {
    return ex.coldStart;
  }

  onResponseStart(ex: Exchange, _status: number, headers: HeaderBag): void {
    if (!ex.coldStart) return;
    const ms = Math.round(this.d.clock.monotonic() - ex.startedAt);
    const series = this.series.of(ex.rev!);
    series.coldStarts.inc();
    series.coldStartSeconds.observe(ms / 1000);
    headers[COLD_START_HEADER] = String(ms);
  }

  onDone(ex: Exchange): void {
    const rev = ex.rev;
    if (!rev) return;
    const series = this.series.of(rev);
    if (!ex.admitted) {
      series.requests(ex.status).inc();
      return;
    }
    const { clock, collector, outcomes } = this.d;
    const now = clock.now();
    collector.end(rev.key, now);
    series.inflight.dec();
    series.requests(ex.status).inc();
    const elapsedMs = clock.monotonic() - ex.startedAt;
    series.duration.observe(elapsedMs / 1000);
    outcomes?.record(rev.key, now, ex.status, elapsedMs, ex.coldStartMs);
  }
}
