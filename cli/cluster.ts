import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Counter, Gauge } from 'prom-client';
import { batchingSettings, gatewayForwarder, clientLimits, createMetricsServer, dataTls, gatewayPipeline, grpcLimits, holdLimits, ingressSettings, listen, listenGrpc, reachableHost, requestLogging } from './wiring.js';
import { gatewayTracing, TRACING_SHUTDOWN_MS } from './tracing.js';
import { dataAuth } from './auth-wiring.js';
import { RedisApiKeys } from '../deploy/auth/redis-api-keys.js';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { Activator } from '../activator/activator.js';
import { Autoscaler } from '../autoscaler/autoscaler.js';
import { Collector } from '../autoscaler/collector.js';
import { clusterAutoscalingDefaults } from '../autoscaler/settings.js';
import { SystemClock, type Clock } from '../core/clock.js';
import type { ServeConfig } from '../core/config.js';
import { createLogger, type Logger } from '../core/log.js';
import { SluiceMetrics } from '../core/metrics.js';
import { RedisStore } from '../core/redis-store.js';
import { RedisMembership } from '../core/redis-membership.js';
import { errorMessage } from '../core/errors.js';
import { KubernetesBackend } from '../deploy/backends/kubernetes/kubernetes-backend.js';
import { ClusterAutoscaler } from '../deploy/kubernetes/cluster-autoscaler.js';
import { ClusterUsage } from '../deploy/kubernetes/cluster-usage.js';
import { ClusterResources } from '../deploy/backends/kubernetes/cluster-resources.js';
import { ClusterController } from '../deploy/kubernetes/cluster-controller.js';
import { ClusterRoutes } from '../deploy/kubernetes/cluster-routes.js';
import { builtinCatalogueDir, loadCatalogue } from '../deploy/runtime-catalogue.js';
import { SnapshotHolder } from '../gateway/data-plane.js';
import { drainGateway } from '../gateway/drain.js';
import { Gateway } from '../gateway/gateway.js';
import { OutcomeFlusher } from '../gateway/shared-outcomes.js';
import { FleetOutcomes } from '../deploy/fleet-outcomes.js';
import { buildRouteTable } from '../gateway/route-table.js';

export interface ClusterRoleOptions {
  config: ServeConfig;
  /** kubeconfig file; default: the config's `kubeconfig`, else $KUBECONFIG, then the in-cluster service account. */
  kubeconfig?: string;
  /** API group of the CRDs (`serving.sluice.dev` or `serving.kserve.io`); default: the config's `group`. */
  group?: string;
  /** Redis shared by gateways and the autoscaler; default: the config's `redisUrl`. */
  redisUrl?: string;
  /** Name in leader Leases (the pod name). */
  identity?: string;
  leaseNamespace?: string;
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** Extra folders of ClusterServingRuntimes / launch recipes for the controller; default: the config's `runtimes`. */
  runtimes?: string[];
  clock?: Clock;
  logger?: Logger;
}

export interface ClusterRole {
  adminUrl: string;
  metricsUrl: string;
  /** The gateway's data URL (gateway role only). */
  dataUrl?: string;
  isLeader?: () => boolean;
  close(): Promise<void>;
}

function kubeConfig(path: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

function identity(o: ClusterRoleOptions): string {
  return o.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
}

/** A route of a role's admin port besides the probes: answers and returns true, or returns false (404). */
type AdminRoute = (req: IncomingMessage, res: ServerResponse, path: string) => boolean;

/** /healthz, /readyz and /metrics on the role's admin and metrics ports. */
async function roleServers(cfg: ServeConfig, metrics: SluiceMetrics, ready: () => boolean, route?: AdminRoute): Promise<{ adminUrl: string; metricsUrl: string; close: () => void }> {
  const admin = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (route?.(req, res, path)) return;
    if (path === '/healthz') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (path === '/readyz')
      return void res.writeHead(ready() ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready() ? 'ready' : 'starting' }));
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  const metricsServer = createMetricsServer(metrics);
  const [a, m] = await Promise.all([listen(admin, cfg.adminPort, cfg.adminHost), listen(metricsServer, cfg.metricsPort, cfg.metricsHost)]);
  return {
    adminUrl: `http://${reachableHost(cfg.adminHost)}:${a}`,
    metricsUrl: `http://${reachableHost(cfg.metricsHost)}:${m}`,
    close: () => {
      admin.close();
      admin.closeAllConnections();
      metricsServer.close();
      metricsServer.closeAllConnections();
    },
  };
}

/** `sluice controller`: InferenceServices → revisions, Deployments, Services and status; leader-elected. */
export async function startClusterController(o: ClusterRoleOptions): Promise<ClusterRole> {
  const cfg = o.config;
  const clock = o.clock ?? new SystemClock();
  const logger = o.logger ?? createLogger({ level: cfg.logLevel, format: cfg.logFormat, name: 'sluice-controller' });
  const kc = kubeConfig(o.kubeconfig ?? cfg.kubeconfig);
  let owners: ClusterController | null = null;
  // The controller watches the revisions' pods too: a replica that fails before it was ever ready counts against its
  // revision (start-failed), as a local replica that exits before ready does.
  const backend = new KubernetesBackend({ kubeConfig: kc, clock, ownerOf: (rev) => owners?.ownerOf(rev), watchPods: true });
  await backend.start();
  const catalogue = loadCatalogue([builtinCatalogueDir(), ...(o.runtimes ?? cfg.runtimes)]);
  // Rollout policies decide on the fleet's request outcomes, which every gateway flushes to Redis.
  const store = new RedisStore({
    url: o.redisUrl ?? cfg.redisUrl,
    onConnectionError: (err) => logger.warn({ err: err.message }, 'redis connection error'),
  });
  const controller = new ClusterController({
    kc,
    backend,
    catalogue: () => catalogue,
    clock,
    logger,
    group: o.group ?? cfg.group,
    domain: cfg.domain,
    egressAllow: cfg.egressAllow,
    identity: identity(o),
    leaseNamespace: o.leaseNamespace ?? process.env.POD_NAMESPACE,
    leaseDurationMs: o.leaseDurationMs,
    retryPeriodMs: o.retryPeriodMs,
    outcomes: new FleetOutcomes({ store, clock }),
  });
  owners = controller;
  const metrics = new SluiceMetrics({ defaultMetrics: true });
  const servers = await roleServers(cfg, metrics, () => true);
  controller.start();
  return {
    ...servers,
    isLeader: () => controller.isLeader,
    close: async () => {
      await controller.stop();
      await backend.close();
      await store.close();
      servers.close();
    },
  };
}

/** `sluice autoscaler`: demand from Redis, replicas through the scale subresource; leader-elected. */
export async function startClusterAutoscaler(o: ClusterRoleOptions): Promise<ClusterRole> {
  const cfg = o.config;
  const clock = o.clock ?? new SystemClock();
  const logger = o.logger ?? createLogger({ level: cfg.logLevel, format: cfg.logFormat, name: 'sluice-autoscaler' });
  const kc = kubeConfig(o.kubeconfig ?? cfg.kubeconfig);
  const backend = new KubernetesBackend({ kubeConfig: kc, clock });
  await backend.start();
  const store = new RedisStore({
    url: o.redisUrl ?? cfg.redisUrl,
    onConnectionError: (err) => logger.warn({ err: err.message }, 'redis connection error'),
  });
  const metrics = new SluiceMetrics({ defaultMetrics: true });
  // GPU capacity from nodes' allocatable minus pods' requests; CPU/memory from metrics.k8s.io.
  const usage = new ClusterUsage({ resources: new ClusterResources(kc), clock, logger });
  const autoscaler = new Autoscaler({
    clock,
    store,
    backend,
    metrics,
    logger,
    defaults: clusterAutoscalingDefaults(cfg),
    gpuInventory: usage,
    usage,
  });
  usage.start();
  const role = new ClusterAutoscaler({
    kc,
    autoscaler,
    onRevision: (key, rev) => {
      if (!rev) return usage.untrack(key);
      usage.track(key, {
        gpus: rev.gpus,
        replicas: () => {
          const c = backend.counts(key);
          return c.ready + c.starting;
        },
        cpuMemory: rev.autoscaling.metric === 'cpu' || rev.autoscaling.metric === 'memory',
      });
    },
    clock,
    logger,
    identity: identity(o),
    leaseNamespace: o.leaseNamespace ?? process.env.POD_NAMESPACE,
    leaseDurationMs: o.leaseDurationMs,
    retryPeriodMs: o.retryPeriodMs,
  });
  // The poke path that does not need Redis: a gateway that cannot publish a poke (Redis down) posts it here.
  const pokeRoute: AdminRoute = (req, res, path) => {
    const m = /^\/v1\/poke\/([^/]+)\/([^/]+)$/.exec(path);
    if (!m) return false;
    const json = (code: number, body: unknown): void => void res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method !== 'POST') return (json(405, { error: 'POST /v1/poke/<namespace>/<revision>' }), true);
    if (!role.isLeader) return (json(503, { error: 'not the leading autoscaler; poke the leader (retried by the gateway at its next poke)' }), true);
    const key = `${decodeURIComponent(m[1]!)}/${decodeURIComponent(m[2]!)}`;
    logger.info({ revision: key }, 'poke over HTTP (a gateway could not reach Redis)');
    void autoscaler.poke(key).catch((err: unknown) => logger.warn({ err: errorMessage(err), revision: key }, 'poke over HTTP failed'));
    json(202, { revision: key });
    return true;
  };
  const servers = await roleServers(cfg, metrics, () => true, pokeRoute);
  role.start();
  return {
    ...servers,
    isLeader: () => role.isLeader,
    close: async () => {
      usage.stop();
      await role.stop();
      await backend.close();
      await store.close();
      servers.close();
    },
  };
}

/** `sluice gateway`: the data plane (with the activator's hold queue in-process), routing to pod IPs. */
export async function startClusterGateway(o: ClusterRoleOptions): Promise<ClusterRole> {
  const cfg = o.config;
  const clock = o.clock ?? new SystemClock();
  const logger = o.logger ?? createLogger({ level: cfg.logLevel, format: cfg.logFormat, name: 'sluice-gateway' });
  const kc = kubeConfig(o.kubeconfig ?? cfg.kubeconfig);
  const backend = new KubernetesBackend({ kubeConfig: kc, clock });
  const store = new RedisStore({
    url: o.redisUrl ?? cfg.redisUrl,
    onConnectionError: (err) => logger.warn({ err: err.message }, 'redis connection error'),
  });
  const metrics = new SluiceMetrics({ defaultMetrics: true });
  const self = identity(o);
  const collector = new Collector({ clock, store, instance: self });
  // Rollout outcomes, summed per second and flushed to Redis for the controller (deploy/fleet-outcomes.ts).
  const outcomes = new OutcomeFlusher({
    clock,
    store,
    onDropped: (count, why) => logger.warn({ count }, `rollout outcomes dropped: ${why}`),
  });
  const membership = await fleetMembership({ url: o.redisUrl ?? cfg.redisUrl, self, clock, leaseMs: cfg.gatewayLeaseSeconds * 1000, logger, metrics });
  const pokeOne = pokeWithFallback({ store, autoscalerUrl: cfg.autoscalerUrl, logger, metrics });
  const activator = new Activator({
    clock,
    metrics,
    logger: logger.child({ role: 'activator' }),
    limits: holdLimits(cfg),
    // A transformer or explainer woken from zero wakes its predictor too (docs/transformer.md); each poke goes
    // through Redis, or over HTTP to the autoscaler while Redis is down.
    poke: (key) => {
      for (const k of [key, ...routes.wakeWith(key, (p) => backend.counts(p).desired === 0)]) pokeOne(k);
    },
    // Each gateway takes only its share of a replica's containerConcurrency (activator/capacity-share.ts).
    membership,
    // EndpointSlices can lead a pod's real state: confirm new endpoints with our own probe before traffic.
    probes: { intervalMs: cfg.activatorProbeIntervalMs, healthIntervalMs: cfg.activatorHealthIntervalMs, confirmNewReplicas: true },
  });
  const forwarder = gatewayForwarder(cfg, clock);
  backend.subscribe((ev) => {
    activator.onEndpointEvent(ev);
    if (ev.type === 'removed') forwarder.forget(ev.endpoint.url);
  });
  const snapshot = new SnapshotHolder({ routes: buildRouteTable([], cfg.domain, 0), revisions: new Map() });
  const routes = new ClusterRoutes({
    kc,
    group: o.group ?? cfg.group,
    domain: cfg.domain,
    snapshot,
    clock,
    logger,
    dispatch: {
      addRevision: (key, labels) => {
        activator.addRevision(key, labels);
        // Replicas the backend already knows of (their events may have come before the revision).
        for (const endpoint of backend.endpoints(key)) activator.onEndpointEvent({ type: 'ready', endpoint });
      },
      removeRevision: (key) => activator.removeRevision(key),
      onEndpointEvent: (ev) => activator.onEndpointEvent(ev),
      failRevision: (key, message) => activator.failRevision(key, message),
    },
  });
  await backend.start();
  await routes.start();
  await forwarder.warmUp();
  const tracing = await gatewayTracing(cfg, process.env, { clock, logger, metrics, activeReplicas: (k) => activator.activeReplicas(k) });
  const tls = dataTls(cfg, logger);
  // API keys live in the shared Redis (`sluice auth keys create --redis-url`); revocations are polled.
  const apiKeys = new RedisApiKeys({ url: o.redisUrl ?? cfg.redisUrl, clock, logger, pollMs: cfg.apiKeyPollSeconds * 1000, max: cfg.maxApiKeys });
  await apiKeys.start();
  // `sluice.dev/auth: kubernetes`: tokens reviewed by the API server with the gateway's own credentials.
  const auth = dataAuth(cfg, { clock, logger, registry: metrics.registry, keys: apiKeys, kubernetes: { kubeConfig: kc, group: o.group ?? cfg.group } });
  const logging = requestLogging(cfg, { clock, logger: logger, metrics });
  const pipeline = gatewayPipeline({ logging: logging.stage, clock, logger, metrics, collector, outcomes, tracing: tracing?.stage, auth: auth.stage, batching: batchingSettings(cfg), ingress: ingressSettings(cfg), store });
  const gateway = new Gateway({ clock, logger, metrics, snapshot, activator, forwarder, pipeline, clientLimits: clientLimits(cfg), http1Server: cfg.http1Server, grpc: grpcLimits(cfg) });
  const data = gateway.createServer({ tls: tls ?? undefined });
  const dataPort = await listen(data, cfg.dataPort, cfg.dataHost);
  // The internal listener serves cluster-local services too (the cluster-local Service points at it).
  const internal = cfg.internalPort >= 0 ? gateway.createServer({ internal: true, tls: tls ?? undefined }) : null;
  if (internal) await listen(internal, cfg.internalPort, cfg.internalHost);
  const grpcOnly = await listenGrpc(gateway, cfg);
  let ready = true;
  const servers = await roleServers(cfg, metrics, () => ready);
  return {
    ...servers,
    dataUrl: `http://127.0.0.1:${dataPort}`,
    close: async () => {
      ready = false;
      internal?.close();
      internal?.closeAllConnections();
      await drainGateway({ server: data, gateway, graceMs: cfg.shutdownGraceSeconds * 1000, clock, logger, metrics });
      await logging.delivery.close(cfg.loggerShutdownSeconds * 1000);
      await routes.stop();
      await membership.close();
      activator.close();
      collector.close();
      await collector.flush();
      outcomes.stop();
      await outcomes.flush();
      grpcOnly?.server.close();
      gateway.closeGrpc();
      await forwarder.close();
      await tracing?.shutdown(TRACING_SHUTDOWN_MS);
      await backend.close();
      await store.close();
      auth.close();
      await apiKeys.close();
      servers.close();
    },
  };
}


/**
 * This gateway's registration among the fleet's (core/redis-membership.ts), with its gauges: the live gateways it
 * counts and whether its heartbeat reaches Redis.
 */
async function fleetMembership(o: { url: string; self: string; clock: Clock; leaseMs: number; logger: Logger; metrics: SluiceMetrics }): Promise<RedisMembership> {
  const members = new Gauge({
    name: 'sluice_gateway_members',
    help: 'Live gateways this gateway counts (itself included) when it takes its share of each replica\'s capacity.',
    registers: [o.metrics.registry],
  });
  const up = new Gauge({
    name: 'sluice_gateway_redis_up',
    help: '1 while this gateway\'s membership heartbeat reaches Redis; 0 while Redis is unreachable (it keeps its last known gateways).',
    registers: [o.metrics.registry],
  });
  const membership = new RedisMembership({
    url: o.url,
    self: o.self,
    clock: o.clock,
    leaseMs: o.leaseMs,
    logger: o.logger.child({ role: 'membership' }),
    onRedisState: (ok) => up.set(ok ? 1 : 0),
  });
  const departed = new Gauge({
    name: 'sluice_gateway_departed',
    help: 'Gateways whose lease ran out while requests they forwarded may still run: their capacity shares stay out of this gateway\'s until those requests\' deadlines.',
    registers: [o.metrics.registry],
  });
  const count = (): void => {
    members.set(membership.members().length);
    departed.set(membership.departed().size);
  };
  membership.subscribe(count);
  await membership.start();
  count();
  return membership;
}

/** How long a poke over HTTP may take (the activator pokes again a second later while requests are held). */
const POKE_HTTP_TIMEOUT_MS = 2000;

/**
 * The activator's poke: published through Redis; when that fails (Redis down) and `autoscalerUrl` is set, posted
 * to the autoscaler's admin port instead, so a request held at zero still wakes its revision. Each fallback is
 * logged and counted in `sluice_poke_fallback_total{result}`.
 */
function pokeWithFallback(o: { store: RedisStore; autoscalerUrl: string; logger: Logger; metrics: SluiceMetrics }): (key: string) => void {
  const fallbacks = new Counter({
    name: 'sluice_poke_fallback_total',
    help: 'Pokes that could not go through Redis, by what became of them: sent (to the autoscaler over HTTP), failed (that failed too), none (no autoscalerUrl set).',
    labelNames: ['result'],
    registers: [o.metrics.registry],
  });
  const base = o.autoscalerUrl.replace(/\/+$/, '');
  const direct = async (key: string, why: string): Promise<void> => {
    if (!base) {
      fallbacks.inc({ result: 'none' });
      o.logger.warn({ revision: key, err: why }, 'poke through Redis failed and no autoscalerUrl is set: the revision wakes when Redis returns');
      return;
    }
    const [ns, name] = key.split('/');
    const url = `${base}/v1/poke/${encodeURIComponent(ns ?? '')}/${encodeURIComponent(name ?? '')}`;
    try {
      const res = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(POKE_HTTP_TIMEOUT_MS) });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`${res.status} ${text.slice(0, 200)}`);
      fallbacks.inc({ result: 'sent' });
      o.logger.warn({ revision: key, err: why, autoscaler: base }, 'poke through Redis failed; sent to the autoscaler over HTTP');
    } catch (err) {
      fallbacks.inc({ result: 'failed' });
      o.logger.warn({ revision: key, err: why, fallback: errorMessage(err), autoscaler: base }, 'poke failed through Redis and over HTTP; the activator pokes again while requests are held');
    }
  };
  return (key) => void o.store.poke(key).catch((err: unknown) => direct(key, errorMessage(err)));
}
