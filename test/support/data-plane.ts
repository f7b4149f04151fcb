/**
 * The data plane alone, on real sockets with real demo-runtime replicas: gateway → activator → forwarder →
 * local backend, for one revision of the demo runtime. No autoscaler: tests scale the backend themselves
 * (a poke scales to `wakeTo` replicas when the revision is at zero), so nothing else moves under them.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Activator, type HoldLimits } from '../../activator/activator.js';
import { gatewayPipeline } from '../../cli/wiring.js';
import type { ProbeSettings } from '../../activator/activator.js';
import { revisionKey } from '../../api/revision.js';
import { Collector } from '../../autoscaler/collector.js';
import { SystemClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { SluiceMetrics } from '../../core/metrics.js';
import { MemoryStore } from '../../core/store.js';
import type { BackendLogger } from '../../deploy/backends/local/backend-logger.js';
import { LocalBackend } from '../../deploy/backends/local/local-backend.js';
import { revisionView, SnapshotHolder } from '../../gateway/data-plane.js';
import { Forwarder } from '../../gateway/forwarder.js';
import { Gateway } from '../../gateway/gateway.js';
import { buildRouteTable } from '../../gateway/route-table.js';
import { demoRevision, type DemoRevisionOptions } from './demo-revision.js';
import { SLUICE_ROOT } from './paths.js';

export interface DataPlaneOptions extends DemoRevisionOptions {
  limits?: Partial<HoldLimits>;
  probes?: ProbeSettings;
  /** Replicas a poke asks for when the revision is at zero; default 1. */
  wakeTo?: number;
  /** Delay between 'draining' and SIGTERM in the local backend. */
  drainDelayMs?: number;
  backendLogger?: BackendLogger;
}

export interface DataPlane {
  url: string;
  key: string;
  backend: LocalBackend;
  activator: Activator;
  metrics: SluiceMetrics;
  gateway: Gateway;
  pokes: number;
  /** The replicas' own URLs, for /demo/stats. */
  replicaUrls(): string[];
  close(): Promise<void>;
}

export const DEFAULT_TEST_LIMITS: HoldLimits = {
  maxHeldPerRevision: 10_000,
  maxHeldTotal: 50_000,
  maxHeldBytesPerRevision: 256 * 1024 * 1024,
  maxHeldBytesTotal: 1024 * 1024 * 1024,
  retryAfterSeconds: 1,
};

export async function startDataPlane(o: DataPlaneOptions = {}): Promise<DataPlane> {
  process.chdir(SLUICE_ROOT);
  const clock = new SystemClock();
  const metrics = new SluiceMetrics();
  const store = new MemoryStore();
  const logger = silentLogger();
  const backend = new LocalBackend({
    sluiceRoot: SLUICE_ROOT,
    clock,
    logger: o.backendLogger,
    drainDelayMs: o.drainDelayMs,
    maxReplicasPerRevision: 8,
  });
  const rev = demoRevision(o);
  const key = revisionKey(rev);
  let plane: DataPlane;
  const activator = new Activator({
    clock,
    metrics,
    logger,
    limits: { ...DEFAULT_TEST_LIMITS, ...o.limits },
    poke: (k) => {
      plane.pokes++;
      if (backend.counts(k).desired === 0) void backend.scale(k, o.wakeTo ?? 1);
    },
    probes: o.probes,
  });
  activator.addRevision(key, { namespace: rev.namespace, service: rev.service, revision: rev.name });
  const forwarder = new Forwarder();
  const unsubscribe = backend.subscribe((ev) => {
    activator.onEndpointEvent(ev);
    if (ev.type === 'removed') forwarder.forget(ev.endpoint.url);
  });
  await backend.apply(rev);
  const snapshot = new SnapshotHolder({
    routes: buildRouteTable(
      [
        {
          namespace: rev.namespace,
          service: rev.service,
          modelName: rev.modelName,
          hosts: [],
          targets: [{ revisionKey: key, revisionName: rev.name, percent: 100, tag: null, latestRevision: true }],
        },
      ],
      'example.com',
      1,
    ),
    revisions: new Map([
      [
        key,
        revisionView(rev),
      ],
    ]),
  });
  const collector = new Collector({ clock, store, instance: 'test', flushIntervalMs: 0 });
  const pipeline = gatewayPipeline({ clock, logger, metrics, collector });
  const gateway = new Gateway({ clock, logger, metrics, snapshot, activator, forwarder, pipeline });
  const server: Server = gateway.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  plane = {
    url: `http://127.0.0.1:${port}`,
    key,
    backend,
    activator,
    metrics,
    gateway,
    pokes: 0,
    replicaUrls: () => backend.endpoints(key).map((e) => e.url),
    close: async () => {
      server.close();
      server.closeAllConnections();
      activator.close();
      unsubscribe();
      await backend.close();
      await forwarder.close();
      collector.close();
    },
  };
  return plane;
}

/** The demo runtime's counters on one replica. */
export async function demoStats(url: string): Promise<{ inFlight: number; queued: number; predictions: number; requests: number }> {
  const r = await fetch(`${url}/demo/stats`);
  return (await r.json()) as { inFlight: number; queued: number; predictions: number; requests: number };
}

/** A v2 infer body with a request id the runtime echoes back, padded to about `bytes`. */
export function inferBody(id: string, bytes = 0): string {
  const base = { id, inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [6.3, 3.3, 6.0, 2.5] }] };
  const text = JSON.stringify(base);
  if (bytes <= text.length) return text;
  return JSON.stringify({ ...base, parameters: { pad: 'x'.repeat(bytes - text.length - 30) } });
}
