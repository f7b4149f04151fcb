import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Activator } from '../activator/activator.js';
import { Autoscaler } from '../autoscaler/autoscaler.js';
import { Collector } from '../autoscaler/collector.js';
import { SystemClock, type Clock } from '../core/clock.js';
import type { ServeConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { SluiceMetrics } from '../core/metrics.js';
import { MemoryStore } from '../core/store.js';
import { createAdminServer } from '../deploy/admin-api.js';
import type { Backend } from '../deploy/backends/backend.js';
import { LocalBackend } from '../deploy/backends/local/local-backend.js';
import { ConfigFolder } from '../deploy/config-folder.js';
import { Controller } from '../deploy/controller.js';
import { builtinCatalogueDir, loadCatalogue } from '../deploy/runtime-catalogue.js';
import { buildRouteTable } from '../gateway/route-table.js';
import { SnapshotHolder } from '../gateway/data-plane.js';
import { Forwarder } from '../gateway/forwarder.js';
import { Gateway } from '../gateway/gateway.js';
import { OutcomeRecorder } from '../gateway/outcome-recorder.js';

export interface EmbeddedOptions {
  config: ServeConfig;
  /** Folder of YAML specs; null for none (API only). */
  configDir: string | null;
  watch?: boolean;
  clock?: Clock;
  logger?: Logger;
  /** Replaces the local backend (tests). */
  backend?: Backend;
  /** Python for `{{python}}` in launch recipes. */
  pythonPath?: string;
}

export interface Embedded {
  dataUrl: string;
  adminUrl: string;
  metricsUrl: string;
  controller: Controller;
  backend: Backend;
  metrics: SluiceMetrics;
  gateway: Gateway;
  configFolder: ConfigFolder | null;
  /** Graceful stop: refuse new connections, let in-flight requests finish (bounded), stop replicas. */
  close(): Promise<void>;
}

/** The package root (where package.json and dist/ live), from this file's location in src or dist. */
export function sluiceRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** Every role in one process: gateway, activator, autoscaler, controller, local backend, memory store. */
export async function startEmbedded(o: EmbeddedOptions): Promise<Embedded> {
  const cfg = o.config;
  const clock = o.clock ?? new SystemClock();
  const logger = o.logger ?? createLogger({ level: cfg.logLevel });
  const metrics = new SluiceMetrics({ defaultMetrics: true });
  const store = new MemoryStore();
  const root = sluiceRoot();
  const backend =
    o.backend ??
    new LocalBackend({
      sluiceRoot: root,
      clock,
      logger: logger.child({ role: 'backend' }),
      pythonPath: o.pythonPath ?? process.env.SLUICE_PYTHON,
    });
  const collector = new Collector({ clock, store, instance: 'embedded' });
  const activator = new Activator({
    clock,
    metrics,
    logger: logger.child({ role: 'activator' }),
    limits: {
      maxHeldPerRevision: cfg.maxHeldPerRevision,
      maxHeldTotal: cfg.maxHeldTotal,
      maxHeldBytesPerRevision: cfg.maxHeldBytesPerRevision,
      maxHeldBytesTotal: cfg.maxHeldBytesTotal,
      retryAfterSeconds: cfg.retryAfterSeconds,
    },
    poke: (key) => void store.poke(key),
  });
  const autoscaler = new Autoscaler({
    clock,
    store,
    backend,
    metrics,
    logger: logger.child({ role: 'autoscaler' }),
    tickMs: cfg.tickSeconds * 1000,
    scaleToZeroGraceMs: cfg.scaleToZeroGraceSeconds * 1000,
    waiting: (k) => activator.held(k),
    inflightNow: (k) => collector.inflight(k),
  });
  const snapshot = new SnapshotHolder({ routes: buildRouteTable([], cfg.domain, 0), revisions: new Map() });
  const forwarder = new Forwarder({ connectionsPerReplica: cfg.connectionsPerReplica });
  const outcomes = new OutcomeRecorder();
  const baseCatalogue = loadCatalogue([builtinCatalogueDir()]);
  let folder: ConfigFolder | null = null;
  let boundDataPort: number | undefined = cfg.dataPort || undefined;
  const controller = new Controller({
    clock,
    logger: logger.child({ role: 'controller' }),
    backend,
    autoscaler,
    activator,
    snapshot,
    catalogue: () => folder?.catalogue() ?? baseCatalogue,
    domain: cfg.domain,
    urlPort: () => boundDataPort,
    maxServices: cfg.maxServices,
    onEndpointRemoved: (url) => forwarder.forget(url),
    revisionHistoryLimit: cfg.revisionHistoryLimit,
    outcomes,
    rolloutTickMs: cfg.rolloutTickSeconds * 1000,
  });
  const gateway = new Gateway({ clock, logger: logger.child({ role: 'gateway' }), metrics, snapshot, activator, collector, forwarder, outcomes });
  let ready = false;
  controller.start();
  autoscaler.start();

  const data = gateway.createServer();
  const admin = createAdminServer({ controller, logger: logger.child({ role: 'admin' }), ready: () => ready });
  const metricsServer = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found; try /metrics' }));
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  const [dataPort, adminPort, metricsPort] = await Promise.all([
    listen(data, cfg.dataPort, cfg.dataHost),
    listen(admin, cfg.adminPort, cfg.adminHost),
    listen(metricsServer, cfg.metricsPort, cfg.metricsHost),
  ]);
  boundDataPort = dataPort;

  if (o.configDir) {
    folder = new ConfigFolder({ dir: resolve(o.configDir), controller, logger: logger.child({ role: 'config' }), baseCatalogue });
    await folder.sync();
    if (o.watch !== false) folder.watch();
  }
  ready = true;
  logger.info({ data: dataPort, admin: adminPort, metrics: metricsPort }, 'sluice is serving');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      folder?.close();
      data.close();
      const until = Date.now() + cfg.shutdownGraceSeconds * 1000;
      while (gateway.activeRequests > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      data.closeAllConnections();
      autoscaler.stop();
      collector.close();
      controller.stop();
      await backend.close();
      await forwarder.close();
      admin.close();
      admin.closeAllConnections();
      metricsServer.close();
      metricsServer.closeAllConnections();
      await store.close();
    })();
    return closing;
  };

  const host = (h: string): string => (h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h);
  return {
    dataUrl: `http://${host(cfg.dataHost)}:${dataPort}`,
    adminUrl: `http://${host(cfg.adminHost)}:${adminPort}`,
    metricsUrl: `http://${host(cfg.metricsHost)}:${metricsPort}`,
    controller,
    backend,
    metrics,
    gateway,
    configFolder: folder,
    close,
  };
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolveListen((server.address() as AddressInfo).port);
    });
  });
}
