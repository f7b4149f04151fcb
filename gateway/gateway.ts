import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Activator, Lease } from '../activator/activator.js';
import { PRIORITY_HEADER, parsePriority, type Priority } from '../activator/priority.js';
import type { Collector } from '../autoscaler/collector.js';
import type { Clock } from '../core/clock.js';
import { SERVE_DEFAULTS } from '../core/config.js';
import { HttpError, writeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { SnapshotHolder, RevisionView } from './data-plane.js';
import { ClientGone } from './client-gone.js';
import { answerClientErrors, capConnections, type ClientLimits } from './client-connections.js';
import type { Drainable } from './drain.js';
import { ForwardError, type Forwarder } from './forwarder.js';
import { ModelProbes } from './model-probes.js';
import type { OutcomeRecorder } from './outcome-recorder.js';
import { RevisionMetricsCache } from './revision-metrics.js';
import { badRequestTarget } from './request-target.js';
import { matchRoute } from './route-table.js';
import { answerServerEndpoint, GatewayPhase } from './server-endpoints.js';
import { TrafficPicker } from './traffic-picker.js';

export interface GatewayDeps {
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  snapshot: SnapshotHolder;
  activator: Activator;
  collector: Collector;
  forwarder: Forwarder;
  /** Header that selects a tag (Sluice extension; see docs). */
  tagHeader?: string;
  /**
   * Priority class of a request while held (interactive ahead of batch). Default: the `x-sluice-priority`
   * header. An auth layer can map API keys to classes here.
   */
  priorityOf?: (req: IncomingMessage) => Priority;
  /** Per-revision request outcomes for rollout policies (h7 hook; see docs/traffic.md). */
  outcomes?: OutcomeRecorder;
  /** Header timeout and connection caps of the data port; defaults from core/config.ts. */
  clientLimits?: Partial<ClientLimits>;
  /** Starting, serving or draining: the gateway's own readiness (`/readyz`, `/v2/health/ready`). Default serving. */
  phase?: GatewayPhase;
}

const TAG_HEADER = 'x-sluice-tag';
const COLD_START_HEADER = 'x-sluice-cold-start';

/** The gateway's request lifecycle: route → pick revision → acquire a replica (maybe held) → forward → count. */
export class Gateway implements Drainable {
  private readonly d: GatewayDeps;
  /** Shared with every forward: read once as each response begins. */
  private readonly drainState: { draining: boolean } = { draining: false };
  private readonly picker = new TrafficPicker();
  private readonly tagHeader: string;
  private active = 0;
  private readonly series: RevisionMetricsCache;
  private readonly probes = new ModelProbes();
  readonly phase: GatewayPhase;

  constructor(deps: GatewayDeps) {
    this.d = deps;
    this.tagHeader = deps.tagHeader ?? TAG_HEADER;
    this.series = new RevisionMetricsCache(deps.metrics);
    this.phase = deps.phase ?? new GatewayPhase('serving');
  }

  createServer(): Server {
    const limits: ClientLimits = {
      headerTimeoutMs: SERVE_DEFAULTS.headerTimeoutSeconds * 1000,
      maxConnections: SERVE_DEFAULTS.maxConnections,
      maxConnectionsPerClient: SERVE_DEFAULTS.maxConnectionsPerClient,
      ...this.d.clientLimits,
    };
    const server = createServer(
      {
        keepAliveTimeout: 65_000,
        headersTimeout: limits.headerTimeoutMs,
        // Node checks the head deadline on this period (its default of 30 s let a slow head live ~78 s).
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(limits.headerTimeoutMs / 4))),
        // Node's whole-request timeout would also end a request the activator holds while its body waits unread
        // in the socket; the forwarder's body timeout (bodyTimeoutSeconds) times only a client that stops sending
        // while its body is read, and the hold deadline bounds the wait.
        requestTimeout: 0,
      },
      (req, res) => {
        void this.handle(req, res);
      },
    );
    const deps = { limits, metrics: this.d.metrics, logger: this.d.logger, clock: this.d.clock };
    answerClientErrors(server, deps);
    capConnections(server, deps);
    return server;
  }

  /** Requests in the gateway now (held or forwarded), for graceful shutdown. */
  get activeRequests(): number {
    return this.active;
  }

  /** From now on every response closes its connection (graceful shutdown; see drain.ts). */
  beginDrain(): void {
    this.drainState.draining = true;
    // Readiness (`/readyz`, `/v2/health/ready`) answers 503 from now on.
    this.phase.draining();
  }

  refuseHeld(message: string): number {
    return this.d.activator.failAllHeld(new HttpError(503, message));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.active++;
    if (this.drainState.draining) res.shouldKeepAlive = false;
    try {
      const serving = this.route(req, res);
      if (serving) await serving;
    } finally {
      this.active--;
    }
  }

  /** Answers at once (no route, no revision) or returns the promise of serving the request. */
  private route(req: IncomingMessage, res: ServerResponse): Promise<void> | undefined {
    const url = req.url ?? '/';
    const badTarget = badRequestTarget(url);
    if (badTarget !== null) {
      this.d.metrics.unroutedTotal.inc({ reason: 'bad_path' });
      writeError(res, 400, badTarget);
      return;
    }
    const snap = this.d.snapshot.current;
    const tagHeader = req.headers[this.tagHeader];
    const match = matchRoute(
      snap.routes,
      req.headers.host,
      url,
      typeof tagHeader === 'string' ? tagHeader : undefined,
    );
    if (!match) {
      // The gateway's own endpoints live where no route does (the bare address: no service host, no /serving/).
      if (answerServerEndpoint(req, res, snap.routes, this.phase)) return;
      this.d.metrics.unroutedTotal.inc({ reason: 'no_route' });
      writeError(res, 404, `no InferenceService matches host "${req.headers.host ?? ''}" and path "${req.url ?? ''}"`);
      return;
    }
    const target = this.picker.pick(match.route, match.tag, req.headers);
    if (!target) {
      this.d.metrics.unroutedTotal.inc({ reason: match.tag ? 'unknown_tag' : 'no_traffic' });
      if (match.tag) writeError(res, 404, `InferenceService ${match.route.namespace}/${match.route.service} has no tag "${match.tag}"`);
      else writeError(res, 503, `InferenceService ${match.route.namespace}/${match.route.service} has no revision taking traffic`);
      return;
    }
    const rev = snap.revisions.get(target.revisionKey);
    if (!rev) {
      writeError(res, 503, `revision ${target.revisionName} is not available`);
      return;
    }
    if (rev.failed !== null) {
      this.d.metrics.unroutedTotal.inc({ reason: 'revision_failed' });
      writeError(res, 503, rev.failed);
      return;
    }
    // Model readiness and metadata probes for a revision at zero are answered here: they are not demand.
    if ((req.method === 'GET' || req.method === 'HEAD') && this.probes.answer(req, res, snap, rev, match.path, this.d.activator.activeReplicas(rev.key) > 0))
      return;
    return this.serve(req, res, rev, rewritePath(match.path, rev));
  }

  private async serve(req: IncomingMessage, res: ServerResponse, rev: RevisionView, path: string): Promise<void> {
    const { clock, collector, activator, forwarder } = this.d;
    const arrival = clock.now();
    const started = process.hrtime.bigint();
    const deadlineAt = arrival + rev.timeoutMs;
    const abort = new ClientGone();
    const onClose = (): void => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    collector.begin(rev.key);
    const series = this.series.of(rev);
    series.inflight.inc();
    let status = 0;
    let coldStartMs = 0;
    try {
      const bytes = Number(req.headers['content-length'] ?? 0) || 0;
      const priority = this.d.priorityOf ? this.d.priorityOf(req) : parsePriority(req.headers[PRIORITY_HEADER]);
      for (;;) {
        const acquired = activator.acquire(rev.key, { signal: abort, deadlineAt, bytes, priority });
        const lease: Lease = acquired instanceof Promise ? await acquired : acquired;
        if (lease.coldStart) coldStartMs = lease.heldMs;
        try {
          status = await forwarder.forward(lease.replica.endpoint.url, req, res, {
            path,
            timeoutMs: Math.max(1, deadlineAt - clock.now()),
            signal: abort,
            drain: this.drainState,
            responseHeaders: lease.coldStart
              ? () => {
                  const ms = clock.now() - arrival;
                  series.coldStarts.inc();
                  series.coldStartSeconds.observe(ms / 1000);
                  return { [COLD_START_HEADER]: String(ms) };
                }
              : undefined,
          });
          break;
        } catch (err) {
          if (err instanceof ForwardError && err.unreachable) activator.reportFailure(rev.key, lease.replica.endpoint.id);
          if (err instanceof ForwardError && err.retryable && clock.now() < deadlineAt) {
            this.d.logger.warn({ revision: rev.key, replica: lease.replica.endpoint.id, code: err.code }, 'retrying on another replica');
            continue;
          }
          if (err instanceof ForwardError && err.status === 502)
            throw new ForwardError(502, false, err.code, `replica ${lease.replica.endpoint.id}: ${err.message}`);
          throw err;
        } finally {
          lease.release();
        }
      }
    } catch (err) {
      status = this.fail(res, err);
    } finally {
      res.off('close', onClose);
      collector.end(rev.key);
      series.inflight.dec();
      series.requests(status).inc();
      const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
      series.duration.observe(elapsedMs / 1000);
      this.d.outcomes?.record(rev.key, clock.now(), status, elapsedMs, coldStartMs);
    }
  }

  private fail(res: ServerResponse, err: unknown): number {
    if (this.drainState.draining) res.shouldKeepAlive = false;
    if (err instanceof ForwardError && err.status === 408) {
      // The client stopped sending its body: what is left of it is unknown, so the connection cannot be reused.
      res.shouldKeepAlive = false;
      this.d.metrics.clientTimeoutsTotal.inc({ kind: 'body' });
    }
    if (err instanceof HttpError || err instanceof ForwardError) {
      if (err.status === 499) {
        res.destroy();
        return 499;
      }
      writeError(res, err.status, err.message, err instanceof HttpError ? err.headers : {});
      return err.status;
    }
    this.d.logger.error({ err }, 'gateway failure');
    writeError(res, 500, 'internal gateway error');
    return 500;
  }
}

/** Rewrites `/models/<modelName>` to the runtime's own model name when they differ (e.g. TorchServe). */
function rewritePath(path: string, rev: RevisionView): string {
  if (rev.runtimeModelName === rev.modelName) return path;
  return path.replace(`/models/${rev.modelName}`, `/models/${rev.runtimeModelName}`);
}
