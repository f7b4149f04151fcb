import { createServer, type Server } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { HoldLimits } from '../activator/activator.js';
import type { Collector } from '../autoscaler/collector.js';
import type { Clock } from '../core/clock.js';
import type { ServeConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { ClientLimits } from '../gateway/client-connections.js';
import type { Gateway, GrpcLimits } from '../gateway/gateway.js';
import type { OutcomeRecorder } from '../gateway/outcome-recorder.js';
import { Pipeline } from '../gateway/pipeline.js';
import type { Stage } from '../gateway/stage.js';
import { Accounting } from '../gateway/stages/accounting.js';
import { PriorityHeader } from '../gateway/stages/priority-header.js';

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
  /** Rollout outcomes (embedded mode, where the controller reads them). */
  outcomes?: OutcomeRecorder;
  /** More stages (tests; later: limits, auth, tracing), composed after the priority header, before accounting. */
  extraStages?: readonly Stage[];
}

/**
 * The gateway's stages, composed once for embedded and cluster mode alike: the priority header, any extra
 * stages, then accounting (last, so its `onDone` sees the status every other stage left).
 */
export function gatewayPipeline(o: GatewayPipelineOptions): Pipeline {
  const accounting = new Accounting({ clock: o.clock, metrics: o.metrics, collector: o.collector, outcomes: o.outcomes });
  return new Pipeline([new PriorityHeader(), ...(o.extraStages ?? []), accounting], o.logger);
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
  };
}

/** `GET /metrics` in Prometheus' text format; anything else is 404. */
export function createMetricsServer(metrics: SluiceMetrics): Server {
  return createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found; try /metrics' }));
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) })),
    );
  });
}

/** Loopback for wildcard addresses, so a printed URL can be used as is. */
export function reachableHost(h: string): string {
  return h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h;
}
