import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import type { Http2Server } from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TlsFiles } from '../core/tls-files.js';
import type { Activator } from '../activator/activator.js';
import { SystemClock, type Clock } from '../core/clock.js';
import { SERVE_DEFAULTS } from '../core/config.js';
import { HttpError, writeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import { answerClientErrors, capConnections, clientErrorAnswer, type ClientLimits } from './client-connections.js';
import type { SnapshotHolder, RevisionView } from './data-plane.js';
import { Dispatch, type ServeDone } from './dispatch.js';
import type { Drainable } from './drain.js';
import { Exchange } from './exchange.js';
import { failureOf } from './failure.js';
import type { Forwarder } from './forwarder.js';
import { GrpcGateway } from './grpc/grpc-gateway.js';
import { H2cFront, TLS_ALPN_PROTOCOLS } from './grpc/h2c-front.js';
import { GrpcSessionPool } from './grpc/session-pool.js';
import { serveHttp1 } from './http1/data-connection.js';
import { ModelProbes } from './model-probes.js';
import type { Pipeline } from './pipeline.js';
import { badRequestTarget } from './request-target.js';
import { matchRoute } from './route-table.js';
import { answerServerEndpoint, GatewayPhase } from './server-endpoints.js';
import type { Admission, Refusal } from './stage.js';
import { TrafficPicker } from './traffic-picker.js';

export interface GatewayDeps {
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  snapshot: SnapshotHolder;
  activator: Activator;
  forwarder: Forwarder;
  /** The stages every request goes through, composed once (cli/wiring.ts `gatewayPipeline`). */
  pipeline: Pipeline;
  /** Header that selects a tag (Sluice extension; see docs). */
  tagHeader?: string;
  /** Header timeout and connection caps of the data port; defaults from core/config.ts. */
  clientLimits?: Partial<ClientLimits>;
  /** Starting, serving or draining: the gateway's own readiness (`/readyz`, `/v2/health/ready`). Default serving. */
  phase?: GatewayPhase;
  /** gRPC bounds; defaults from core/config.ts (docs/grpc.md). */
  grpc?: Partial<GrpcLimits>;
  /**
   * Who handles the cleartext data port's HTTP/1.1 connections: `sluice` (gateway/http1/, the default) or `node`
   * (node:http's server). HTTPS is always node:https's. The `http1Server` setting.
   */
  http1Server?: 'sluice' | 'node';
  /**
   * The clock of client connections' head and keep-alive deadlines (as node:http's server, real time unless a
   * test injects one; `clock` may be a simulated one that requests' deadlines follow).
   */
  socketClock?: Clock;
}

/** The gRPC settings of the data plane (core/config-table.ts `grpc…`). */
export interface GrpcLimits {
  maxMessageBytes: number;
  maxConcurrentStreams: number;
  sessionsPerReplica: number;
}

const TAG_HEADER = 'x-sluice-tag';
/** Idle keep-alive connections of the data port close after this (advertised as `Keep-Alive: timeout=65`). */
const KEEP_ALIVE_MS = 65_000;

/**
 * The gateway's request lifecycle: one Exchange per request → arrival stages → route and pick the revision →
 * routed stages → admitted (demand) → dispatch (acquire a replica, maybe held; forward; retry) → done stages.
 * A stage that refuses answers at once: the request is never admitted, so it wakes nothing.
 */
export class Gateway implements Drainable, ServeDone {
  private readonly d: GatewayDeps;
  /** Shared with every forward: read once as each response begins. */
  private readonly drainState: { draining: boolean } = { draining: false };
  private readonly picker = new TrafficPicker();
  private readonly tagHeader: string;
  private readonly pipeline: Pipeline;
  private readonly dispatch: Dispatch;
  private readonly probes = new ModelProbes();
  private active = 0;
  readonly phase: GatewayPhase;
  private front: H2cFront | null = null;
  private grpcPool: GrpcSessionPool | null = null;
  private socketClock: Clock | null = null;

  constructor(deps: GatewayDeps) {
    this.d = deps;
    this.tagHeader = deps.tagHeader ?? TAG_HEADER;
    this.pipeline = deps.pipeline;
    this.phase = deps.phase ?? new GatewayPhase('serving');
    this.dispatch = new Dispatch({
      clock: deps.clock,
      logger: deps.logger,
      metrics: deps.metrics,
      activator: deps.activator,
      forwarder: deps.forwarder,
      drain: this.drainState,
      observeForward: deps.pipeline.observesForward,
    });
  }

  /**
   * The data listener; `internal: true` makes the internal one (it also serves cluster-local services). With
   * `tls` it serves HTTPS, its certificate reloaded when the files change (core/tls-files.ts).
   */
  createServer(o: { internal?: boolean; tls?: TlsFiles } = {}): Server {
    const limits: ClientLimits = {
      headerTimeoutMs: SERVE_DEFAULTS.headerTimeoutSeconds * 1000,
      maxConnections: SERVE_DEFAULTS.maxConnections,
      maxConnectionsPerClient: SERVE_DEFAULTS.maxConnectionsPerClient,
      maxHeaderBytes: SERVE_DEFAULTS.maxHeaderBytes,
      ...this.d.clientLimits,
    };
    const internal = o.internal === true;
    const checkEvery = Math.max(100, Math.min(1000, Math.floor(limits.headerTimeoutMs / 4)));
    const make = o.tls ? (opts: ServerOptions, h: RequestListener) => createHttpsServer({ ...opts, ...o.tls!.options(), ALPNProtocols: [...TLS_ALPN_PROTOCOLS] }, h) : createServer;
    const server = make(
      {
        maxHeaderSize: limits.maxHeaderBytes,
        keepAliveTimeout: KEEP_ALIVE_MS,
        headersTimeout: limits.headerTimeoutMs,
        // Node checks the head deadline on this period (its default of 30 s let a slow head live ~78 s).
        connectionsCheckingInterval: checkEvery,
        // Node's whole-request timeout would also end a request the activator holds while its body waits unread
        // in the socket; the forwarder's body timeout (bodyTimeoutSeconds) times only a client that stops sending
        // while its body is read, and the hold deadline bounds the wait.
        requestTimeout: 0,
      },
      (req, res) => {
        this.handle(req, res, internal);
      },
    );
    const deps = { limits, metrics: this.d.metrics, logger: this.d.logger, clock: this.d.clock };
    const front = this.h2c(limits);
    let own = false;
    if (!o.tls && this.d.http1Server !== 'node') {
      own = serveHttp1(server, {
        clock: this.d.socketClock ?? (this.socketClock ??= new SystemClock()),
        headerTimeoutMs: limits.headerTimeoutMs,
        maxHeaderBytes: limits.maxHeaderBytes,
        keepAliveMs: KEEP_ALIVE_MS,
        checkEveryMs: checkEvery,
        onRequest: (req, res) => {
          this.handle(req, res as unknown as ServerResponse, internal);
        },
        clientError: (err) => clientErrorAnswer(err, deps),
        onPreface: (socket, bytes) => front.takeOver(socket, bytes),
      });
      if (!own) this.d.logger.warn({}, 'this Node has no HTTP parser binding Sluice knows: the data port uses node:http (http1Server=node)');
    }
    // gRPC on the same port: over TLS the handshake's ALPN (h2) tells it apart, in cleartext a connection's first
    // bytes (HTTP/2 with prior knowledge): Sluice's own HTTP/1.1 connections look at them on their first read,
    // node:http's server gets a sniffing step before its handler. See docs/grpc.md.
    if (o.tls) {
      o.tls.attach(server as HttpsServer);
      front.attachTls(server as HttpsServer);
    } else if (own) front.adopt(server);
    else front.attach(server);
    answerClientErrors(server, deps);
    capConnections(server, deps);
    return server;
  }

  /** A server that takes gRPC only (the `grpcPort` setting); it shares the data port's calls, stages and pools. */
  createGrpcServer(): Http2Server {
    return this.h2c({ headerTimeoutMs: SERVE_DEFAULTS.headerTimeoutSeconds * 1000, ...this.d.clientLimits }).h2;
  }

  /** Closes the HTTP/2 sessions to replicas (after the drain). */
  closeGrpc(): void {
    this.grpcPool?.close();
  }

  private h2c(limits: Pick<ClientLimits, 'headerTimeoutMs'>): H2cFront {
    if (this.front) return this.front;
    const g: GrpcLimits = {
      maxMessageBytes: SERVE_DEFAULTS.grpcMaxMessageBytes,
      maxConcurrentStreams: SERVE_DEFAULTS.grpcMaxConcurrentStreams,
      sessionsPerReplica: SERVE_DEFAULTS.grpcSessionsPerReplica,
      ...this.d.grpc,
    };
    const pool = (this.grpcPool = new GrpcSessionPool({ maxSessionsPerReplica: g.sessionsPerReplica }));
    const calls = new GrpcGateway({
      clock: this.d.clock,
      logger: this.d.logger,
      metrics: this.d.metrics,
      snapshot: this.d.snapshot,
      activator: this.d.activator,
      pipeline: this.pipeline,
      picker: this.picker,
      phase: this.phase,
      tagHeader: this.tagHeader,
      pool,
      maxMessageBytes: g.maxMessageBytes,
      headTimeoutMs: limits.headerTimeoutMs,
      enter: () => this.active++,
      leave: () => this.active--,
    });
    this.front = new H2cFront({
      maxConcurrentStreams: g.maxConcurrentStreams,
      sniffTimeoutMs: limits.headerTimeoutMs,
      onStream: (stream, headers) => calls.handle(stream, headers),
    });
    return this.front;
  }

  /** Requests in the gateway now (held or forwarded), for graceful shutdown. */
  get activeRequests(): number {
    return this.active;
  }

  /** From now on every response closes its connection (graceful shutdown; see drain.ts). */
  beginDrain(): void {
    this.drainState.draining = true;
    // gRPC clients get GOAWAY: their open calls finish, new ones go elsewhere.
    this.front?.goAway();
    // Readiness (`/readyz`, `/v2/health/ready`) answers 503 from now on.
    this.phase.draining();
  }

  refuseHeld(message: string): number {
    return this.d.activator.failAllHeld(new HttpError(503, message));
  }

  /**
   * `internal`: the request came to the internal listener (cluster-local services are served only there). Runs
   * without a promise while every stage answers synchronously (the common case); a stage that returns a promise
   * moves the rest of the request's way into `continueAfter`. The done stages run once, in `served`, whatever
   * happened.
   */
  handle(req: IncomingMessage, res: ServerResponse, internal = false): void {
    this.active++;
    if (this.drainState.draining) res.shouldKeepAlive = false;
    const p = this.pipeline;
    const ex = new Exchange(req, res, this.d.clock.now(), this.d.clock.monotonic(), p);
    ex.internal = internal;
    try {
      if (p.hasArrival && !this.passes(ex, p.runArrival(ex), true)) return;
      this.routeAndAdmit(ex);
    } catch (err) {
      this.crashed(ex, err);
    }
  }

  /** Routing, the routed stages and the admission (may throw: the caller answers). */
  private routeAndAdmit(ex: Exchange): void {
    if (!this.route(ex)) return this.served(ex);
    const p = this.pipeline;
    if (p.hasRouted && !this.passes(ex, p.runRouted(ex), false)) return;
    this.admit(ex);
  }

  /**
   * Whether the arrival (or routed) stages let the request through now. A refusal is answered; a promise hands the
   * rest of the request's way to `continueAfter`.
   */
  private passes(ex: Exchange, refusal: Admission | Promise<Admission>, arrival: boolean): boolean {
    if (refusal instanceof Promise) {
      void this.continueAfter(ex, refusal, arrival);
      return false;
    }
    if (refusal) {
      this.refused(ex, refusal);
      return false;
    }
    return true;
  }

  /** The rest of a request's way once a stage's promise settles (after the arrival stages, or the routed ones). */
  private async continueAfter(ex: Exchange, pending: Promise<Admission>, arrival: boolean): Promise<void> {
    ex.sameRun = false;
    try {
      const refusal = await pending;
      if (refusal) return this.refused(ex, refusal);
      if (arrival) this.routeAndAdmit(ex);
      else this.admit(ex);
    } catch (err) {
      this.crashed(ex, err);
    }
  }

  /** Every stage let the request through: it is demand from here on; a stage may take it over, else the dispatch serves it. */
  private admit(ex: Exchange): void {
    ex.admitted = true;
    const p = this.pipeline;
    if (p.hasAdmitted) p.runAdmitted(ex);
    const taken = p.hasDispatch ? p.runDispatch(ex, this.dispatch) : undefined;
    if (taken) {
      taken.then(
        () => this.served(ex),
        (err: unknown) => this.crashed(ex, err),
      );
      return;
    }
    // Never throws; calls `served` once the request was answered.
    this.dispatch.start(ex, this);
  }

  /** The request was answered (or refused, or failed): the done stages run, once. @internal (ServeDone) */
  served(ex: Exchange): void {
    const p = this.pipeline;
    if (p.hasDone) p.runDone(ex);
    this.active--;
  }

  /** A stage or the routing threw (the dispatch answers its own failures). */
  private crashed(ex: Exchange, err: unknown): void {
    ex.failure = failureOf(err);
    try {
      ex.status = this.dispatch.answerError(ex.res, err);
    } catch (e) {
      this.d.logger.error({ err: e }, 'gateway failure while answering an error');
    }
    this.served(ex);
  }

  /** A stage answered in place of the runtime. */
  private refused(ex: Exchange, r: Refusal): void {
    refuse(ex, r);
    this.served(ex);
  }

  /**
   * Finds the route and picks the revision (setting them on `ex`), or answers itself and returns false: 400/404/503,
   * the gateway's own endpoints, and model probes for a revision at zero.
   */
  private route(ex: Exchange): boolean {
    const { req, res } = ex;
    const url = req.url ?? '/';
    const badTarget = badRequestTarget(url);
    if (badTarget !== null) {
      this.d.metrics.unroutedTotal.inc({ reason: 'bad_path' });
      ex.status = 400;
      writeError(res, 400, badTarget);
      return false;
    }
    const snap = this.d.snapshot.current;
    const tagHeader = req.headers[this.tagHeader];
    const match = matchRoute(
      snap.routes,
      req.headers.host,
      url,
      typeof tagHeader === 'string' ? tagHeader : undefined,
    );
    // A cluster-local service (api/ingress-policy.ts) is not in the external listener's table: there it is
    // unrouted like an unknown one (same answer, model probes included), so its existence does not leak.
    if (!match || (match.route.ingress?.internal === true && !ex.internal)) {
      // The gateway's own endpoints live where no route does (the bare address: no service host, no /serving/).
      if (answerServerEndpoint(req, res, snap.routes, this.phase)) {
        ex.status = res.statusCode;
        return false;
      }
      this.d.metrics.unroutedTotal.inc({ reason: 'no_route' });
      ex.status = 404;
      writeError(res, 404, `no InferenceService matches host "${req.headers.host ?? ''}" and path "${req.url ?? ''}"`);
      return false;
    }
    ex.match = match;
    const target = this.picker.pick(match.route, match.tag, req.headers);
    if (!target) {
      this.d.metrics.unroutedTotal.inc({ reason: match.tag ? 'unknown_tag' : 'no_traffic' });
      if (match.tag) {
        ex.status = 404;
        writeError(res, 404, `InferenceService ${match.route.namespace}/${match.route.service} has no tag "${match.tag}"`);
      } else {
        ex.status = 503;
        writeError(res, 503, `InferenceService ${match.route.namespace}/${match.route.service} has no revision taking traffic`);
      }
      return false;
    }
    const rev = snap.revisions.get(target.revisionKey);
    if (!rev) {
      ex.status = 503;
      writeError(res, 503, `revision ${target.revisionName} is not available`);
      return false;
    }
    if (rev.failed !== null) {
      this.d.metrics.unroutedTotal.inc({ reason: 'revision_failed' });
      ex.status = 503;
      writeError(res, 503, rev.failed);
      return false;
    }
    // Model readiness and metadata probes for a revision at zero are answered here: they are not demand.
    if ((req.method === 'GET' || req.method === 'HEAD') && this.probes.answer(req, res, snap, rev, match.path, this.d.activator.activeReplicas(rev.key) > 0)) {
      ex.status = res.statusCode;
      return false;
    }
    ex.rev = rev;
    ex.path = rewritePath(match.path, rev);
    ex.deadlineAt = ex.arrival + rev.timeoutMs;
    return true;
  }
}

/** A stage answered in place of the runtime. */
function refuse(ex: Exchange, r: Refusal): void {
  ex.status = r.status;
  ex.failure = { kind: 'refused', message: r.message };
  if (r.empty) ex.res.writeHead(r.status, r.headers).end();
  else writeError(ex.res, r.status, r.message, r.headers);
}

/** Rewrites `/models/<modelName>` to the runtime's own model name when they differ (e.g. TorchServe). */
function rewritePath(path: string, rev: RevisionView): string {
  if (rev.runtimeModelName === rev.modelName) return path;
  return path.replace(`/models/${rev.modelName}`, `/models/${rev.runtimeModelName}`);
}
