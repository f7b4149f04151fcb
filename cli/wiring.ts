import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { HoldLimits } from '../activator/activator.js';
import type { Collector } from '../autoscaler/collector.js';
import type { Clock } from '../core/clock.js';
import { SERVE_DEFAULTS, type ServeConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { ClientLimits } from '../gateway/client-connections.js';
import { Forwarder } from '../gateway/forwarder.js';
import type { Gateway, GrpcLimits } from '../gateway/gateway.js';
import type { OutcomeSink } from '../gateway/shared-outcomes.js';
import { Pipeline } from '../gateway/pipeline.js';
import type { Stage } from '../gateway/stage.js';
import { Batcher } from '../gateway/batcher/batcher.js';
import { Accounting } from '../gateway/stages/accounting.js';
import { PriorityHeader } from '../gateway/stages/priority-header.js';
import { ingressStages } from '../gateway/stages/ingress.js';
import { INGRESS_DEFAULTS, type IngressSettings } from '../gateway/stages/ingress-settings.js';
import type { Store } from '../core/store.js';
import { tlsFilesFrom, type TlsFiles } from '../core/tls-files.js';
import { EventDelivery } from '../gateway/stages/logger/delivery.js';
import { RequestLogging } from '../gateway/stages/logger/request-logging.js';

/** Starts listening and resolves with the bound port (useful with port 0). */
export function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export interface GatewayPipelineOptions {
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  collector: Collector;
  /** Rollout outcomes: the in-process recorder (embedded mode), or the flusher to Redis (cluster mode). */
  outcomes?: OutcomeSink;
  /** The data plane's auth stage (cli/auth-wiring.ts): right after tracing, so a refused request costs little more. */
  auth?: Stage;
  /** More stages (tests; later: limits), composed after the priority header, before accounting. */
  extraStages?: readonly Stage[];
  /** The tracing stage (cli/tracing.ts), composed first: its span covers every other stage's work. */
  tracing?: Stage;
  /** The batcher's settings (`batchMaxBodyBytes`, `batchSplitOnError`); defaults from the configuration table. */
  batching?: { maxBodyBytes: number; splitOnError: boolean; bodyTimeoutMs?: number };
  /** Gateway-wide ingress limits (default: the table's defaults); see `ingressSettings`. */
  ingress?: IngressSettings;
  /** Shares rate-limit buckets between gateways when it can (Redis in cluster mode). */
  store?: Store;
  /** Request/response logging (`requestLogging`), composed just before accounting. */
  logging?: RequestLogging;
}

/**
 * The gateway's stages, composed once for embedded and cluster mode alike: tracing (when on), auth, the priority header,
 * any extra stages, then accounting (last, so its `onDone` sees the status every other stage left).
 */
export function gatewayPipeline(o: GatewayPipelineOptions): Pipeline {
  const accounting = new Accounting({ clock: o.clock, metrics: o.metrics, collector: o.collector, outcomes: o.outcomes });
  const batcher = new Batcher({
    clock: o.clock,
    metrics: o.metrics,
    maxBodyBytes: o.batching?.maxBodyBytes ?? SERVE_DEFAULTS.batchMaxBodyBytes,
    splitOnError: o.batching?.splitOnError ?? SERVE_DEFAULTS.batchSplitOnError,
    bodyTimeoutMs: o.batching?.bodyTimeoutMs ?? SERVE_DEFAULTS.bodyTimeoutSeconds * 1000,
  });
  const ingress = ingressStages(o.ingress ?? INGRESS_DEFAULTS, { clock: o.clock, logger: o.logger, metrics: o.metrics, store: o.store });
  // Auth decides after the ingress rules that need no caller (header count, visibility, CIDRs, CORS preflight, body
  // size: a cluster-local service stays a 404, a preflight needs no token) and before the per-service rate limits,
  // so that an authenticated API key is the client those limits count (CALLER_KEY_ID).
  const rateAt = ingress.findIndex((s) => s.name === 'rate-limit');
  const beforeAuth = rateAt === -1 ? ingress : ingress.slice(0, rateAt);
  const afterAuth = rateAt === -1 ? [] : ingress.slice(rateAt);
  return new Pipeline(
    [
      ...(o.tracing ? [o.tracing] : []),
      new PriorityHeader(),
      ...beforeAuth,
      ...(o.auth ? [o.auth] : []),
      ...afterAuth,
      ...(o.extraStages ?? []),
      batcher,
      ...(o.logging ? [o.logging] : []),
      accounting,
    ],
    o.logger,
  );
}

/** The gateway-wide ingress limits from the configuration. */
/** The forwarder every role that runs a gateway uses, from the configuration. */
export function gatewayForwarder(cfg: ServeConfig, clock: Clock): Forwarder {
  return new Forwarder({ connectionsPerReplica: cfg.connectionsPerReplica, bodyTimeoutMs: cfg.bodyTimeoutSeconds * 1000, clock });
}

/** The batcher's settings from the configuration (the same for every role that runs a gateway). */
export function batchingSettings(cfg: ServeConfig): { maxBodyBytes: number; splitOnError: boolean; bodyTimeoutMs: number } {
  return { maxBodyBytes: cfg.batchMaxBodyBytes, splitOnError: cfg.batchSplitOnError, bodyTimeoutMs: cfg.bodyTimeoutSeconds * 1000 };
}

export function ingressSettings(cfg: ServeConfig): IngressSettings {
  return {
    trustedProxyHops: cfg.trustedProxyHops,
    maxRequestBytes: cfg.maxRequestBytes,
    maxHeaderCount: cfg.maxHeaderCount,
    maxRequestsPerClient: cfg.maxRequestsPerClient,
    clientRateLimit: cfg.clientRateLimit,
    clientRateLimitBurst: cfg.clientRateLimitBurst,
    rateLimitBuckets: cfg.rateLimitBuckets,
  };
}

/** The data listeners' certificate (tlsCertFile/tlsKeyFile), or null for plain HTTP. */
export function dataTls(cfg: ServeConfig, logger?: Logger): TlsFiles | null {
  return tlsFilesFrom(cfg.tlsCertFile, cfg.tlsKeyFile, { cert: 'tlsCertFile', key: 'tlsKeyFile' }, logger);
}

/** The admin API's certificate (adminTlsCertFile/adminTlsKeyFile), or null for plain HTTP. */
export function adminTls(cfg: ServeConfig, logger?: Logger): TlsFiles | null {
  return tlsFilesFrom(cfg.adminTlsCertFile, cfg.adminTlsKeyFile, { cert: 'adminTlsCertFile', key: 'adminTlsKeyFile' }, logger);
}

/** Request/response logging from the configuration: the stage, and its delivery queue (closed after the drain). */
export function requestLogging(cfg: ServeConfig, o: { clock: Clock; logger: Logger; metrics: SluiceMetrics }): { stage: RequestLogging; delivery: EventDelivery } {
  const delivery = new EventDelivery({
    clock: o.clock,
    logger: o.logger,
    metrics: o.metrics,
    queueEvents: cfg.loggerQueueEvents,
    queueBytes: cfg.loggerQueueBytes,
    timeoutMs: cfg.loggerTimeoutSeconds * 1000,
    attempts: cfg.loggerAttempts,
    backoffMs: cfg.loggerBackoffMs,
    connectionsPerSink: cfg.loggerConnectionsPerSink,
    fileMaxBytes: cfg.loggerFileMaxBytes,
  });
  return { stage: new RequestLogging({ clock: o.clock, events: delivery, maxPayloadBytes: cfg.loggerMaxPayloadBytes }), delivery };
}

/** The activator's bounds from the configuration. */
export function holdLimits(cfg: ServeConfig): HoldLimits {
  return {
    maxHeldPerRevision: cfg.maxHeldPerRevision,
    maxHeldTotal: cfg.maxHeldTotal,
    maxHeldBytesPerRevision: cfg.maxHeldBytesPerRevision,
    maxHeldBytesTotal: cfg.maxHeldBytesTotal,
    retryAfterSeconds: cfg.retryAfterSeconds,
  };
}

/** The gRPC bounds of the data plane from the configuration (docs/grpc.md). */
export function grpcLimits(cfg: ServeConfig): GrpcLimits {
  return {
    maxMessageBytes: cfg.grpcMaxMessageBytes,
    maxConcurrentStreams: cfg.grpcMaxConcurrentStreams,
    sessionsPerReplica: cfg.grpcSessionsPerReplica,
  };
}

/** The gRPC-only port when `grpcPort` asks for one (≥ 0): its bound port and the server; null otherwise. */
export async function listenGrpc(gateway: Gateway, cfg: ServeConfig): Promise<{ port: number; server: NetServer } | null> {
  if (cfg.grpcPort < 0) return null;
  const server = gateway.createGrpcServer();
  return { port: await listen(server, cfg.grpcPort, cfg.dataHost), server };
}

/** The data port's header timeout and connection caps from the configuration. */
export function clientLimits(cfg: ServeConfig): ClientLimits {
  return {
    headerTimeoutMs: cfg.headerTimeoutSeconds * 1000,
    maxConnections: cfg.maxConnections,
    maxConnectionsPerClient: cfg.maxConnectionsPerClient,
    maxHeaderBytes: cfg.maxHeaderBytes,
  };
}

/**
 * `GET /metrics` in Prometheus' text format; anything else is 404. `registry` gives the registry to show at each
 * scrape when it is not this process's own (`sluice serve --workers N`: the merge over the workers).
 */
export function createMetricsServer(metrics: SluiceMetrics, registry?: () => Promise<Registry>): Server {
  return createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found; try /metrics' }));
      return;
    }
    (registry ? registry().then((r) => r.metrics()) : metrics.registry.metrics()).then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) })),
    );
  });
}

/** Loopback for wildcard addresses, so a printed URL can be used as is. */
export function reachableHost(h: string): string {
  return h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h;
}
