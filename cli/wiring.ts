import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HoldLimits } from '../activator/activator.js';
import type { Collector } from '../autoscaler/collector.js';
import type { Clock } from '../core/clock.js';
import { SERVE_DEFAULTS, type ServeConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { ClientLimits } from '../gateway/client-connections.js';
import type { OutcomeRecorder } from '../gateway/outcome-recorder.js';
import { Pipeline } from '../gateway/pipeline.js';
import type { Stage } from '../gateway/stage.js';
import { Batcher } from '../gateway/batcher/batcher.js';
import { Accounting } from '../gateway/stages/accounting.js';
import { PriorityHeader } from '../gateway/stages/priority-header.js';

/** Starts listening and resolves with the bound port (useful with port 0). */
export function listen(server: Server, port: number, host: string): Promise<number> {
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
  /** The data plane's auth stage (cli/auth-wiring.ts): right after tracing, so a refused request costs little more. */
  auth?: Stage;
  /** More stages (tests; later: limits), composed after the priority header, before accounting. */
  extraStages?: readonly Stage[];
  /** The tracing stage (cli/tracing.ts), composed first: its span covers every other stage's work. */
  tracing?: Stage;
  /** The batcher's settings (`batchMaxBodyBytes`, `batchSplitOnError`); defaults from the configuration table. */
  batching?: { maxBodyBytes: number; splitOnError: boolean; bodyTimeoutMs?: number };
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
  return new Pipeline([...(o.tracing ? [o.tracing] : []), ...(o.auth ? [o.auth] : []), new PriorityHeader(), ...(o.extraStages ?? []), batcher, accounting], o.logger);
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
