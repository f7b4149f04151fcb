import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CounterFamily, GaugeFamily, HistogramFamily, LiveGauge } from './metric-families.js';

const REVISION_LABELS = ['namespace', 'service', 'revision'] as const;
/** The labels of every per-revision series. */
type RevisionLabel = (typeof REVISION_LABELS)[number];

/** Every Prometheus metric Sluice exports, created on one registry per process (no global registry). */
export class SluiceMetrics {
  readonly registry: Registry;
  // The request path's metrics are families of plain-number children (metric-families.ts): no label hashing
  // per request. The rest are prom-client's.
  readonly requestsTotal: CounterFamily<RevisionLabel | 'code'>;
  readonly requestDuration: HistogramFamily<RevisionLabel>;
  readonly inflight: GaugeFamily<RevisionLabel>;
  readonly desiredReplicas: GaugeFamily<RevisionLabel>;
  readonly readyReplicas: GaugeFamily<RevisionLabel>;
  readonly coldStartsTotal: CounterFamily<RevisionLabel>;
  readonly coldStartSeconds: HistogramFamily<RevisionLabel>;
  readonly heldRequests: GaugeFamily<RevisionLabel>;
  readonly heldBytes: GaugeFamily<RevisionLabel>;
  readonly holdSeconds: Histogram<RevisionLabel>;
  readonly rejectedTotal: Counter<'reason'>;
  readonly replicaInflight: LiveGauge<'revision' | 'replica'>;
  readonly activatorInPath: GaugeFamily<RevisionLabel>;
  readonly autoscalerPanic: GaugeFamily<RevisionLabel>;
  readonly stableConcurrency: GaugeFamily<RevisionLabel>;
  readonly panicConcurrency: GaugeFamily<RevisionLabel>;
  readonly autoscalerTarget: GaugeFamily<RevisionLabel>;
  readonly excessBurstCapacity: GaugeFamily<RevisionLabel>;
  readonly scaleEventsTotal: Counter<'direction' | 'reason'>;
  readonly gpuCapacityLimited: GaugeFamily<RevisionLabel>;
  readonly startupSeconds: GaugeFamily<RevisionLabel>;
  readonly unroutedTotal: Counter<'reason'>;
  readonly shutdownCutTotal: Counter<'stage'>;
  readonly connectionsRefusedTotal: Counter<'reason'>;
  readonly clientTimeoutsTotal: Counter<'kind'>;
  readonly loggerEventsTotal: CounterFamily<'outcome'>;
  readonly loggerQueueEvents: GaugeFamily<never>;
  readonly loggerQueueBytes: GaugeFamily<never>;
  readonly stateFsyncsTotal: Counter<'kind'>;
  readonly replicasPending: Gauge;
  readonly replicaBudgetInUse: Gauge<'resource'>;
  readonly replicaBudgetLimit: Gauge<'resource'>;
  readonly replicaAdmissionsDeferredTotal: Counter;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registry = new Registry();
    this.registry = registry;
    // Node's process and runtime metrics under their standard names (process_*, nodejs_*), as every Node exporter
    // shows them, so existing dashboards and alerts work; only Sluice's own metrics carry the sluice_ prefix.
    if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
    const labelNames = [...REVISION_LABELS];
    /** A gauge per revision (namespace, service, revision), on this registry. */
    const revisionGauge = (name: string, help: string): GaugeFamily<RevisionLabel> =>
      new GaugeFamily({ name, help, labelNames, registry });
    this.requestsTotal = new CounterFamily({
      name: 'sluice_requests_total',
      help: 'Requests answered, by revision and HTTP status code.',
      labelNames: [...labelNames, 'code'],
      registry,
    });
    this.requestDuration = new HistogramFamily({
      name: 'sluice_request_duration_seconds',
      help: 'Time from a request reaching the gateway to its response ending.',
      labelNames,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registry,
    });
    this.inflight = revisionGauge('sluice_inflight_requests', 'Requests in the gateway now (held or forwarded), by revision.');
    this.desiredReplicas = revisionGauge('sluice_desired_replicas', 'Replicas the autoscaler wants for a revision.');
    this.readyReplicas = revisionGauge('sluice_ready_replicas', 'Replicas of a revision that pass their readiness probe.');
    this.coldStartsTotal = new CounterFamily({
      name: 'sluice_cold_starts_total',
      help: 'Requests that had to wait for a revision to scale up from zero.',
      labelNames,
      registry,
    });
    this.coldStartSeconds = new HistogramFamily({
      name: 'sluice_cold_start_seconds',
      help: 'For requests that waited for a replica from zero: arrival to first response byte.',
      labelNames,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300],
      registry,
    });
    this.heldRequests = revisionGauge('sluice_activator_held_requests', 'Requests held by the activator, waiting for a replica with spare capacity.');
    this.heldBytes = revisionGauge('sluice_activator_held_bytes', 'Declared body bytes (content-length) of held requests.');
    this.holdSeconds = new Histogram({
      name: 'sluice_activator_hold_seconds',
      help: 'Time requests spent in the hold queue.',
      labelNames,
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300],
      registers: [registry],
    });
    this.rejectedTotal = new Counter({
      name: 'sluice_activator_rejected_total',
      help: 'Requests the activator refused or dropped, by reason.',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.replicaInflight = new LiveGauge('sluice_replica_inflight', 'Requests in flight on each replica.', registry);
    // A state, not an amount: over `--workers N` processes it is 1 when any activator is in the path.
    this.activatorInPath = new GaugeFamily({
      name: 'sluice_activator_in_path',
      help: '1 while the activator is in a revision\'s request path (no ready replica, requests held, or too little spare burst capacity); 0 while requests go straight to replicas.',
      labelNames,
      registry,
      aggregator: 'max',
    });
    this.autoscalerPanic = revisionGauge('sluice_autoscaler_panic', '1 while the autoscaler is in panic mode for a revision.');
    this.stableConcurrency = revisionGauge('sluice_autoscaler_stable_concurrency', 'Average concurrency (or rps) over the stable window.');
    this.panicConcurrency = revisionGauge('sluice_autoscaler_panic_concurrency', 'Average concurrency (or rps) over the panic window.');
    this.autoscalerTarget = revisionGauge('sluice_autoscaler_target', 'Per-replica target the autoscaler scales to.');
    this.excessBurstCapacity = revisionGauge('sluice_autoscaler_excess_burst_capacity', 'Ready capacity minus target burst capacity minus panic demand; negative keeps the activator in the path.');
    this.scaleEventsTotal = new Counter({
      name: 'sluice_scale_events_total',
      help: 'Scale decisions applied, by direction and reason.',
      labelNames: ['direction', 'reason'],
      registers: [registry],
    });
    this.gpuCapacityLimited = revisionGauge('sluice_gpu_capacity_limited', '1 while a revision wants more replicas than the GPU inventory can hold (requests stay held).');
    this.startupSeconds = revisionGauge('sluice_autoscaler_startup_seconds', 'Learned time from asking for a replica to it being ready (EWMA of observed cold starts).');
    this.replicasPending = new Gauge({
      name: 'sluice_local_replicas_pending',
      help: 'Local backend: replicas asked for and not started for want of the global replica budget.',
      registers: [registry],
    });
    this.replicaBudgetInUse = new Gauge({
      name: 'sluice_local_replica_budget_in_use',
      help: 'Local backend: what replica processes hold of the global budget (resource="replicas": processes; "memory_bytes": their memory requests).',
      labelNames: ['resource'],
      registers: [registry],
    });
    this.replicaBudgetLimit = new Gauge({
      name: 'sluice_local_replica_budget_limit',
      help: 'Local backend: the global replica budget (maxReplicasTotal, replicaMemoryBudget).',
      labelNames: ['resource'],
      registers: [registry],
    });
    this.replicaAdmissionsDeferredTotal = new Counter({
      name: 'sluice_local_replica_admissions_deferred_total',
      help: 'Local backend: replicas whose start was deferred because the global replica budget was used up.',
      registers: [registry],
    });
    this.unroutedTotal = new Counter({
      name: 'sluice_unrouted_requests_total',
      help: 'Requests answered without a revision: no route, no tag, no traffic, or a failed revision (reason).',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.shutdownCutTotal = new Counter({
      name: 'sluice_gateway_shutdown_cut_requests_total',
      help: 'Requests still in the gateway when the shutdown grace ended: held ones answered 503, forwarded ones cut.',
      labelNames: ['stage'],
      registers: [registry],
    });
    this.connectionsRefusedTotal = new Counter({
      name: 'sluice_gateway_connections_refused_total',
      help: 'Client connections closed at accept because a connection cap was reached (total: maxConnections; per_client: maxConnectionsPerClient).',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.clientTimeoutsTotal = new Counter({
      name: 'sluice_gateway_client_timeouts_total',
      help: 'Requests ended because the client was too slow: headers (headerTimeoutSeconds) or body (bodyTimeoutSeconds).',
      labelNames: ['kind'],
      registers: [registry],
    });
    this.loggerEventsTotal = new CounterFamily({
      name: 'sluice_logger_events_total',
      help: 'Request/response log events (CloudEvents) by outcome: sent (a 2xx from the sink, or written to its file), retried (an attempt that failed and is tried again), dropped (the queue was full, or shutdown ended first), failed (every attempt failed, or the sink refused it).',
      labelNames: ['outcome'],
      registry,
    });
    this.loggerQueueEvents = new GaugeFamily({ name: 'sluice_logger_queue_events', help: 'Log events queued or being delivered (loggerQueueEvents bounds it).', labelNames: [], registry });
    this.loggerQueueBytes = new GaugeFamily({ name: 'sluice_logger_queue_bytes', help: 'Bytes of the log events queued or being delivered (loggerQueueBytes bounds it).', labelNames: [], registry });
    this.stateFsyncsTotal = new Counter({
      name: 'sluice_state_fsyncs_total',
      help: 'fsyncs that made embedded state durable: kind="file" (one per state file written), kind="directory" (each shared by the renames it covers).',
      labelNames: ['kind'],
      registers: [registry],
    });
  }

  /** Drops every series of a revision (after it is deleted). */
  forgetRevision(labels: { namespace: string; service: string; revision: string }): void {
    for (const g of [
      this.inflight,
      this.desiredReplicas,
      this.readyReplicas,
      this.heldRequests,
      this.heldBytes,
      this.activatorInPath,
      this.autoscalerPanic,
      this.stableConcurrency,
      this.panicConcurrency,
      this.autoscalerTarget,
      this.excessBurstCapacity,
      this.gpuCapacityLimited,
      this.startupSeconds,
    ]) {
      g.remove(labels);
    }
  }
}
