import { adminTls, batchingSettings, gatewayForwarder, clientLimits, createMetricsServer, dataTls, gatewayPipeline, grpcLimits, holdLimits, ingressSettings, listen, listenGrpc, reachableHost, requestLogging } from './wiring.js';
import { credentialFiles, dataAuth, refuseKubernetesDefault } from './auth-wiring.js';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Activator } from '../activator/activator.js';
import { Autoscaler } from '../autoscaler/autoscaler.js';
import { Collector } from '../autoscaler/collector.js';
import { clusterAutoscalingDefaults } from '../autoscaler/settings.js';
import { SystemClock, type Clock } from '../core/clock.js';
import { parseGpuInventory, type ServeConfig } from '../core/config.js';
import { GpuAllocator } from '../autoscaler/policies/gpu-inventory.js';
import { LocalUsageSource } from '../deploy/backends/local/usage.js';
import { createLogger, type Logger } from '../core/log.js';
import { errorMessage } from '../core/errors.js';
import { SluiceMetrics } from '../core/metrics.js';
import { MemoryStore, type Store } from '../core/store.js';
import { createAdminServer } from '../deploy/admin-api.js';
import { allowedHostNames } from '../deploy/admin-guard.js';
import { adminTokenFor, checkAdminExposure } from './admin-token.js';
import type { Backend } from '../api/backend.js';
import { LocalBackend } from '../deploy/backends/local/local-backend.js';
import type { ReplicaBudgetObserver } from '../deploy/backends/local/replica-budget.js';
import { ConfigFolder } from '../deploy/config-folder.js';
import { Controller } from '../deploy/controller.js';
import { AppliedFilesFile } from '../deploy/state/applied-files.js';
import { FileStateStore } from '../deploy/state/file-state-store.js';
import { RuntimeFiles } from '../deploy/state/runtime-files.js';
import { builtinCatalogueDir, loadCatalogue, mergeCatalogue, type RuntimeCatalogue } from '../deploy/runtime-catalogue.js';
import { RuntimeRegistry } from '../deploy/runtime-registry.js';
import { buildRouteTable } from '../gateway/route-table.js';
import { SnapshotHolder } from '../gateway/data-plane.js';
import { drainGateway } from '../gateway/drain.js';
import { Gateway } from '../gateway/gateway.js';
import { GatewayPhase } from '../gateway/server-endpoints.js';
import { OutcomeRecorder } from '../gateway/outcome-recorder.js';
import type { Stage } from '../gateway/stage.js';
import { gatewayTracing, TRACING_SHUTDOWN_MS } from './tracing.js';
import type { WorkerPool } from './workers.js';

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
  /** More gateway stages, composed after the priority header and before accounting (tests; cli/wiring.ts). */
  extraStages?: readonly Stage[];
  /** Where the standard `OTEL_*` variables are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** A store shared with other gateways for rate-limit buckets (tests: a RedisStore; default: local buckets). */
  rateLimitStore?: Store;
  /**
   * `--workers N` (N > 1): this process runs the control plane and these worker processes the data plane
   * (cli/workers.ts); the data port is theirs.
   */
  workers?: WorkerPool;
}

export interface Embedded {
  dataUrl: string;
  /** The internal data listener (also serves cluster-local services), when `internalPort` ≥ 0. */
  internalUrl: string | null;
  /** The gRPC-only port's address, when `grpcPort` asks for one (gRPC also reaches `dataUrl`). */
  grpcUrl?: string;
  adminUrl: string;
  metricsUrl: string;
  /** The state directory (absolute), created with owner-only permissions. */
  stateDir: string;
  /** The bearer token the admin API's `/apis` requests need (generated into `<stateDir>/admin-token` unless explicit). */
  adminToken: string;
  /** Where services are kept across restarts (docs/state.md). */
  state: FileStateStore;
  controller: Controller;
  backend: Backend;
  metrics: SluiceMetrics;
  gateway: Gateway;
  autoscaler: Autoscaler;
  /** The data plane's current routes and revisions. */
  snapshot: SnapshotHolder;
  configFolder: ConfigFolder | null;
  /** Runtimes applied through the admin API. */
  runtimes: RuntimeRegistry;
  /**
   * Graceful stop: refuse new connections, close idle ones, answer with `Connection: close`, let in-flight
   * requests finish within shutdownGraceSeconds (what is left is logged and counted), then stop replicas.
   */
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

/** The local backend's budget numbers as Prometheus gauges and a counter. */
function replicaBudgetMetrics(m: SluiceMetrics, cfg: ServeConfig): ReplicaBudgetObserver {
  m.replicaBudgetLimit.set({ resource: 'replicas' }, cfg.maxReplicasTotal);
  m.replicaBudgetLimit.set({ resource: 'memory_bytes' }, cfg.replicaMemoryBudget);
  return {
    pending: (n) => m.replicasPending.set(n),
    inUse: (replicas, memoryBytes) => {
      m.replicaBudgetInUse.set({ resource: 'replicas' }, replicas);
      m.replicaBudgetInUse.set({ resource: 'memory_bytes' }, memoryBytes);
    },
    deferred: (n) => m.replicaAdmissionsDeferredTotal.inc(n),
  };
}

/** Every role in one process: gateway, activator, autoscaler, controller, local backend, memory store. */
export async function startEmbedded(o: EmbeddedOptions): Promise<Embedded> {
  const cfg = o.config;
  const clock = o.clock ?? new SystemClock();
  const logger = o.logger ?? createLogger({ level: cfg.logLevel, format: cfg.logFormat });
  checkAdminExposure(cfg);
  refuseKubernetesDefault(cfg);
  // Certificates are read before anything starts: a missing or half pair stops the start, naming the setting.
  const tls = dataTls(cfg, logger.child({ role: 'gateway' }));
  const adminTlsFiles = adminTls(cfg, logger.child({ role: 'admin' }));
  const stateDir = resolve(cfg.stateDir);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const adminToken = adminTokenFor(cfg, stateDir);
  if (adminToken.replacedReason) logger.warn({ file: adminToken.file }, `admin token replaced by a new one: ${adminToken.replacedReason}`);
  // Read before anything listens: a bad state file stops the start, naming the file.
  const metrics = new SluiceMetrics({ defaultMetrics: true });
  const state = new FileStateStore({
    dir: stateDir,
    logger: logger.child({ role: 'state' }),
    maxDeletedRemembered: cfg.deletedServicesRemembered,
    onSync: (kind) => metrics.stateFsyncsTotal.inc({ kind }),
  });
  const saved = await state.load().catch((err: unknown) => {
    throw new Error(`cannot read the state directory ${stateDir}: ${errorMessage(err)} (move the file away, or reset the state: docs/state.md)`);
  });
  const store = new MemoryStore();
  const root = sluiceRoot();
  const inventory = parseGpuInventory(cfg.gpus);
  const gpuAllocator = new GpuAllocator(
    Object.entries(inventory).flatMap(([resourceName, n]) => Array.from({ length: n }, (_, i) => ({ resourceName, id: String(i) }))),
  );
  const workers = o.workers ?? null;
  // A transformer or explainer woken from zero wakes its predictor too (docs/transformer.md).
  const poke = (key: string): void => {
    void store.poke(key);
    for (const k of controller.wakeWith(key)) void store.poke(k);
  };
  // Held requests and in-flight per revision: this process's, plus its workers' (summed) when it has workers.
  const heldNow = (k: string): number => activator.held(k) + (workers?.held(k) ?? 0);
  const activator = new Activator({
    clock,
    metrics,
    logger: logger.child({ role: 'activator' }),
    limits: holdLimits(cfg),
    poke,
    probes: { intervalMs: cfg.activatorProbeIntervalMs, healthIntervalMs: cfg.activatorHealthIntervalMs },
  });
  const local =
    o.backend === undefined
      ? new LocalBackend({
          sluiceRoot: root,
          clock,
          logger: logger.child({ role: 'backend' }),
          pythonPath: o.pythonPath ?? cfg.python,
          gpuAllocator,
          probeIntervalMs: cfg.replicaProbeIntervalMs,
          probeFastIntervalMs: cfg.replicaProbeFastIntervalMs,
          // Starting replicas are probed faster while the activator holds requests for their revision (and such
          // revisions are admitted first when replicas wait for the global budget).
          waiting: heldNow,
          budget: { maxReplicas: cfg.maxReplicasTotal, memoryBytes: cfg.replicaMemoryBudget },
          defaultReplicaMemoryBytes: cfg.replicaMemoryDefault,
          budgetObserver: replicaBudgetMetrics(metrics, cfg),
          // Transformers and explainers reach their predictor through the data port (docs/transformer.md).
          gatewayAddress: () => {
            if (boundDataPort === undefined) return undefined;
            const host = reachableHost(cfg.dataHost);
            return `${host.includes(':') ? `[${host}]` : host}:${boundDataPort}`;
          },
        })
      : null;
  const backend: Backend = o.backend ?? local!;
  const collector = new Collector({ clock, store, instance: 'embedded' });
  const autoscaler = new Autoscaler({
    clock,
    store,
    backend,
    metrics,
    logger: logger.child({ role: 'autoscaler' }),
    defaults: clusterAutoscalingDefaults(cfg),
    gpuInventory: gpuAllocator,
    ...(local ? { usage: new LocalUsageSource((k) => local.replicaProcesses(k)) } : {}),
    waiting: heldNow,
    inflightNow: (k) => collector.inflight(k) + (workers?.inflight(k) ?? 0),
  });
  const snapshot = new SnapshotHolder({ routes: buildRouteTable([], cfg.domain, 0), revisions: new Map() });
  const forwarder = gatewayForwarder(cfg, clock);
  const outcomes = new OutcomeRecorder();
  const baseCatalogue = loadCatalogue([builtinCatalogueDir()]);
  // Runtimes applied through the admin API, kept in the state directory; restored before the services that use them.
  const runtimeFiles = new RuntimeFiles(stateDir, state.files);
  const runtimes = new RuntimeRegistry({ clock, maxObjectBytes: cfg.maxObjectBytes, store: runtimeFiles });
  for (const r of await runtimeFiles.load().catch((err: unknown) => {
    throw new Error(`cannot read the state directory ${stateDir}: ${errorMessage(err)} (move the file away, or reset the state: docs/state.md)`);
  })) {
    try {
      runtimes.restore(r.resource, r.doc);
    } catch (err) {
      throw new Error(`cannot restore ${r.file} from the state directory: ${errorMessage(err)} (move the file away, or reset the state: docs/state.md)`);
    }
  }
  const layered = catalogueLayers(baseCatalogue, runtimes);
  let folder: ConfigFolder | null = null;
  let boundDataPort: number | undefined = cfg.dataPort || undefined;
  const controller = new Controller({
    clock,
    logger: logger.child({ role: 'controller' }),
    backend,
    autoscaler,
    activator: workers ? workers.tee(activator) : activator,
    snapshot,
    // Built-in < config folder < admin API (docs/admin-api.md, "Runtimes applied through the API").
    catalogue: () => layered(folder?.catalogue() ?? baseCatalogue),
    domain: cfg.domain,
    urlPort: () => boundDataPort,
    maxServices: cfg.maxServices,
    onEndpointRemoved: (url) => forwarder.forget(url),
    revisionHistoryLimit: cfg.revisionHistoryLimit,
    outcomes,
    rolloutTickMs: cfg.rolloutTickSeconds * 1000,
    store: state,
    maxObjectBytes: cfg.maxObjectBytes,
    egressAllow: cfg.egressAllow,
  });
  // Not ready (`/readyz`, `/v2/health/ready` answer 503) until the config folder's services are loaded.
  const phase = new GatewayPhase('starting');
  const gatewayLogger = logger.child({ role: 'gateway' });
  const tracing = await gatewayTracing(cfg, o.env ?? process.env, { clock, logger, metrics, activeReplicas: (k) => activator.activeReplicas(k) });
  const { apiKeys, adminTokens } = credentialFiles(cfg, stateDir, state.files);
  const auth = dataAuth(cfg, { clock, logger: gatewayLogger, registry: metrics.registry, keys: apiKeys });
  const logging = requestLogging(cfg, { clock, logger: gatewayLogger, metrics });
  const pipeline = gatewayPipeline({ logging: logging.stage, clock, logger: gatewayLogger, metrics, collector, outcomes, extraStages: o.extraStages, tracing: tracing?.stage, auth: auth.stage, batching: batchingSettings(cfg), ingress: ingressSettings(cfg), store: o.rateLimitStore });
  const gateway = new Gateway({ clock, logger: gatewayLogger, metrics, snapshot, activator, forwarder, pipeline, clientLimits: clientLimits(cfg), http1Server: cfg.http1Server, grpc: grpcLimits(cfg), phase });
  let ready = false;
  controller.start();
  autoscaler.start();
  // In or out of the path, per revision, from the autoscaler's excess burst capacity (Knative's rule).
  activator.startPathUpdates((k) => autoscaler.excessBurstCapacity(k), Math.min(500, cfg.tickSeconds * 1000));
  // Everything applied before the restart, before the admin API can change anything.
  for (const s of saved.services) {
    try {
      await controller.resume(s);
    } catch (err) {
      throw new Error(`cannot restore ${s.namespace}/${s.name} from the state directory ${stateDir}: ${errorMessage(err)}`);
    }
  }
  if (saved.services.length > 0 || saved.tempFilesRemoved > 0)
    logger.info({ stateDir, services: saved.services.length, tempFilesRemoved: saved.tempFilesRemoved }, 'state restored');

  // With workers, the data listeners are theirs (cli/workers.ts); this process keeps the control plane.
  const data = workers ? null : gateway.createServer({ tls: tls ?? undefined });
  // The internal listener serves cluster-local services too (docs/security.md, "Visibility"); off by default.
  const internal = !workers && cfg.internalPort >= 0 ? gateway.createServer({ internal: true, tls: tls ?? undefined }) : null;
  const admin = createAdminServer({
    tls: adminTlsFiles,
    controller,
    runtimes,
    logger: logger.child({ role: 'admin' }),
    ready: () => ready,
    access: { token: adminToken.token, allowedHosts: allowedHostNames(cfg.adminHost, cfg.adminAllowedHosts), roleTokens: adminTokens },
    maxBodyBytes: cfg.adminMaxBodyBytes,
    auth: { clock, apiKeys, adminTokens },
  });
  // With workers, /metrics is this process's registry merged with theirs (cli/workers.ts, `metrics`).
  const metricsServer = createMetricsServer(metrics, workers ? () => workers.metrics(metrics.registry) : undefined);
  const [adminPort, metricsPort] = await Promise.all([listen(admin, cfg.adminPort, cfg.adminHost), listen(metricsServer, cfg.metricsPort, cfg.metricsHost)]);
  const workerPorts = workers
    ? await workers.start({ config: cfg, stateDir, snapshot, store, outcomes, poke, excess: (k) => autoscaler.excessBurstCapacity(k), registry: metrics.registry, apiKeys, clock })
    : null;
  const dataPort = workerPorts ? workerPorts.dataPort : await listen(data!, cfg.dataPort, cfg.dataHost);
  boundDataPort = dataPort;
  const internalPort = workerPorts ? workerPorts.internalPort : internal ? await listen(internal, cfg.internalPort, cfg.internalHost) : null;
  const grpcOnly = workerPorts ? (workerPorts.grpcPort === null ? null : { port: workerPorts.grpcPort, server: null }) : await listenGrpc(gateway, cfg);

  if (o.configDir) {
    folder = new ConfigFolder({
      dir: resolve(o.configDir),
      controller,
      logger: logger.child({ role: 'config' }),
      baseCatalogue,
      memory: new AppliedFilesFile({ path: join(stateDir, 'config-files.json'), files: state.files, logger }),
    });
    await folder.sync();
    if (o.watch !== false) folder.watch();
  }
  // The first forward of a process would otherwise load undici's HTTP/1 client on a cold start's path.
  await forwarder.warmUp();
  ready = true;
  phase.serving();
  workers?.markServing();
  // The token's file (not the token) tells a user where the CLI finds it; an explicit token is never logged.
  logger.info({ data: dataPort, ...(internalPort !== null ? { internal: internalPort } : {}), ...(grpcOnly ? { grpc: grpcOnly.port } : {}), ...(tls ? { tls: true } : {}), admin: adminPort, metrics: metricsPort, workers: workers?.count ?? 1, stateDir, adminToken: adminToken.file ?? adminToken.origin }, 'sluice is serving');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      folder?.close();
      // Connection: close on every response, idle connections closed, in-flight requests finish; then replicas stop.
      if (internal) {
        internal.close();
        internal.closeAllConnections();
      }
      if (workers) await workers.close(cfg.shutdownGraceSeconds * 1000);
      else await drainGateway({ server: data!, gateway, graceMs: cfg.shutdownGraceSeconds * 1000, clock, logger: logger.child({ role: 'gateway' }), metrics });
      // The drained requests' log events, within their own grace.
      await logging.delivery.close(cfg.loggerShutdownSeconds * 1000);
      autoscaler.stop();
      activator.close();
      collector.close();
      controller.stop();
      await state.settled();
      await backend.close();
      grpcOnly?.server?.close();
      gateway.closeGrpc();
      await forwarder.close();
      await tracing?.shutdown(TRACING_SHUTDOWN_MS);
      admin.close();
      admin.closeAllConnections();
      metricsServer.close();
      metricsServer.closeAllConnections();
      await store.close();
      auth.close();
    })();
    return closing;
  };

  return {
    dataUrl: `${tls ? 'https' : 'http'}://${reachableHost(cfg.dataHost)}:${dataPort}`,
    internalUrl: internalPort === null ? null : `${tls ? 'https' : 'http'}://${reachableHost(cfg.internalHost)}:${internalPort}`,
    grpcUrl: grpcOnly ? `http://${reachableHost(cfg.dataHost)}:${grpcOnly.port}` : undefined,
    adminUrl: `${cfg.adminTlsCertFile ? 'https' : 'http'}://${reachableHost(cfg.adminHost)}:${adminPort}`,
    metricsUrl: `http://${reachableHost(cfg.metricsHost)}:${metricsPort}`,
    stateDir,
    adminToken: adminToken.token,
    state,
    controller,
    backend,
    metrics,
    gateway,
    autoscaler,
    snapshot,
    configFolder: folder,
    runtimes,
    close,
  };
}


/** The API's runtimes over a lower catalogue, merged again only when either changed. */
function catalogueLayers(base: RuntimeCatalogue, api: RuntimeRegistry): (lower: RuntimeCatalogue) => RuntimeCatalogue {
  let last: { lower: RuntimeCatalogue; api: RuntimeCatalogue; merged: RuntimeCatalogue } = { lower: base, api: api.catalogue(), merged: base };
  return (lower) => {
    const top = api.catalogue();
    if (last.lower !== lower || last.api !== top) last = { lower, api: top, merged: mergeCatalogue(lower, top) };
    return last.merged;
  };
}
