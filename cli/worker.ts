import { Activator } from '../activator/activator.js';
import type { ApiKeyRecord } from '../api/api-keys.js';
import { Collector } from '../autoscaler/collector.js';
import { SystemClock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
import { createLogger } from '../core/log.js';
import type { GatewayMembership } from '../core/membership.js';
import { SluiceMetrics } from '../core/metrics.js';
import type { MetricBucket, OutcomeBucket, Store, TokenAnswer } from '../core/store.js';
import { SnapshotHolder } from '../gateway/data-plane.js';
import { drainGateway } from '../gateway/drain.js';
import { Gateway } from '../gateway/gateway.js';
import { OutcomeRecorder } from '../gateway/outcome-recorder.js';
import { GatewayPhase } from '../gateway/server-endpoints.js';
import type { ApiKeyDirectory } from '../gateway/stages/auth/auth-stage.js';
import { dataAuth } from './auth-wiring.js';
import { gatewayTracing, TRACING_SHUTDOWN_MS } from './tracing.js';
import { batchingSettings, gatewayForwarder, clientLimits, dataTls, gatewayPipeline, grpcLimits, holdLimits, ingressSettings, listen, listenGrpc, requestLogging } from './wiring.js';
import { BUSY_EVERY_MS, type DispatchOp, type FromWorker, type ToWorker } from './worker-protocol.js';

/** Most outcomes a worker keeps between two sends (100 ms); more are dropped (the rollout gate samples anyway). */
const MAX_OUTCOMES_PER_SEND = 20_000;
const REPORT_MS = 100;
/** A rate-limit token asked of the primary and not answered within this is decided with a local bucket. */
const TOKEN_WAIT_MS = 1_000;
/** Most token requests waiting for the primary's answer; more are decided with local buckets. */
const MAX_PENDING_TOKENS = 10_000;

function send(m: FromWorker): void {
  process.send?.(m);
}

/** The membership of the primary's workers, as the primary last broadcast it. */
class IpcMembership implements GatewayMembership {
  private list: readonly string[] = [];
  private records = new Map<string, Readonly<Record<string, string>>>();
  private gone = new Map<string, ReadonlySet<string>>();
  private readonly listeners = new Set<() => void>();

  constructor(readonly self: string) {}

  members(): readonly string[] {
    return this.list;
  }

  states(): ReadonlyMap<string, Readonly<Record<string, string>>> {
    return this.records;
  }

  departed(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.gone;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  publish(record: Readonly<Record<string, string>>): void {
    send({ t: 'publish', record: { ...record } });
  }

  update(members: string[], departed: Array<[string, string[]]>, records: Array<[string, Record<string, string>]>): void {
    this.list = members;
    this.gone = new Map(departed.map(([id, keys]) => [id, new Set(keys)]));
    this.records = new Map(records);
    for (const l of [...this.listeners]) l();
  }

  async close(): Promise<void> {}
}

/** The API keys as the primary's admin API keeps them: all of them in 'init', then each change ('keys'). */
class KeyDirectory implements ApiKeyDirectory {
  private readonly byHashMap = new Map<string, ApiKeyRecord>();
  private readonly hashById = new Map<string, string>();
  version = 0;

  constructor(records: readonly ApiKeyRecord[]) {
    for (const r of records) this.add(r);
  }

  byHash(hash: string): ApiKeyRecord | undefined {
    return this.byHashMap.get(hash);
  }

  add(r: ApiKeyRecord): void {
    this.byHashMap.set(r.hash, r);
    this.hashById.set(r.id, r.hash);
    this.version++;
  }

  remove(id: string): void {
    const hash = this.hashById.get(id);
    if (hash === undefined) return;
    this.hashById.delete(id);
    this.byHashMap.delete(hash);
    this.version++;
  }
}

/**
 * The worker's metric buckets and pokes go to the primary's store (where the autoscaler reads them, summed), and
 * so do rate-limit tokens: the buckets are the primary's, so N workers admit what one process would.
 */
class IpcStore implements Store {
  private nextToken = 0;
  private readonly tokens = new Map<number, { resolve: (a: TokenAnswer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  async takeToken(key: string, rate: number, burst: number): Promise<TokenAnswer> {
    if (this.tokens.size >= MAX_PENDING_TOKENS) throw new Error(`${MAX_PENDING_TOKENS} rate-limit tokens already wait for the primary`);
    const id = ++this.nextToken;
    return new Promise<TokenAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.tokens.delete(id);
        reject(new Error(`the primary did not answer a rate-limit token within ${TOKEN_WAIT_MS} ms`));
      }, TOKEN_WAIT_MS);
      this.tokens.set(id, { resolve, reject, timer });
      send({ t: 'token', id, key, rate, burst });
    });
  }

  answer(id: number, a: TokenAnswer): void {
    const p = this.tokens.get(id);
    if (!p) return;
    this.tokens.delete(id);
    clearTimeout(p.timer);
    p.resolve(a);
  }


  async addBuckets(revisionKey: string, instance: string, buckets: readonly MetricBucket[]): Promise<void> {
    send({ t: 'buckets', key: revisionKey, instance, buckets: [...buckets] });
  }
  async readBuckets(): Promise<MetricBucket[]> {
    return [];
  }
  // Embedded mode judges rollouts on exact outcomes: a worker sends them to the primary's recorder
  // (ForwardedOutcomes below), never through the store, which carries them only between a cluster's gateways.
  async addOutcomes(): Promise<void> {
    throw new Error('a worker sends rollout outcomes to the primary (ForwardedOutcomes), not through the store');
  }
  async readOutcomes(): Promise<OutcomeBucket[]> {
    return [];
  }
  async poke(): Promise<void> {}
  onPoke(): () => void {
    return () => {};
  }
  async pokesReady(): Promise<void> {}
  async forget(): Promise<void> {}
  async close(): Promise<void> {}
}

/** Rollout outcomes, sent to the primary's recorder (the controller's progressive-delivery gate reads it). */
class ForwardedOutcomes extends OutcomeRecorder {
  private batch: Array<[string, number, number, number, number]> = [];
  dropped = 0;

  override record(revisionKey: string, at: number, status: number, totalMs: number, coldStartMs: number): void {
    if (status === 499) return;
    if (this.batch.length >= MAX_OUTCOMES_PER_SEND) {
      this.dropped++;
      return;
    }
    this.batch.push([revisionKey, at, status, totalMs, coldStartMs]);
  }

  flush(): void {
    if (this.batch.length === 0) return;
    send({ t: 'outcomes', list: this.batch });
    this.batch = [];
  }
}

/**
 * A worker process of `sluice serve --workers N`: the data plane only (gateway pipeline + activator), fed by
 * the primary over IPC (cli/workers.ts). It listens on the data port through node:cluster, which shares it.
 */
export async function runWorker(): Promise<void> {
  // Messages that come while the worker is still starting wait here, in order, for its handler.
  const early: ToWorker[] = [];
  let handler: ((m: ToWorker) => void) | null = null;
  let gotInit: ((m: Extract<ToWorker, { t: 'init' }>) => void) | null = null;
  process.on('message', (m: ToWorker) => {
    if (m.t === 'init' && gotInit) return gotInit(m);
    if (handler) handler(m);
    else early.push(m);
  });
  const init = await new Promise<Extract<ToWorker, { t: 'init' }>>((resolve) => {
    gotInit = resolve;
    send({ t: 'hello' });
  });
  const cfg = init.config;
  const clock = new SystemClock();
  const logger = createLogger({ level: cfg.logLevel, format: cfg.logFormat }).child({ worker: init.id });
  const gatewayLogger = logger.child({ role: 'gateway' });
  const metrics = new SluiceMetrics({ defaultMetrics: true });
  const membership = new IpcMembership(init.id);
  const activator = new Activator({
    clock,
    metrics,
    logger: logger.child({ role: 'activator' }),
    limits: holdLimits(cfg),
    poke: (key) => send({ t: 'poke', key, held: activator.held(key) }),
    probes: { intervalMs: cfg.activatorProbeIntervalMs, healthIntervalMs: cfg.activatorHealthIntervalMs },
    membership,
  });
  const forwarder = gatewayForwarder(cfg, clock);
  const store = new IpcStore();
  // The primary keeps a dead worker's capacity share while its requests may still run on the replicas; it learns
  // of a first request at once, as a report could come too late (cli/workers.ts, departedHold).
  const busySentAt = new Map<string, number>();
  const onBusy = (key: string): void => {
    const now = clock.now();
    if (now - (busySentAt.get(key) ?? -Infinity) < BUSY_EVERY_MS) return;
    busySentAt.set(key, now);
    send({ t: 'busy', key });
  };
  const collector = new Collector({ clock, store, instance: init.id, onBusy });
  const outcomes = new ForwardedOutcomes();
  const snapshot = new SnapshotHolder(init.snapshot);
  const apply = (ops: DispatchOp[]): void => {
    for (const o of ops) {
      if (o.op === 'add') activator.addRevision(o.key, o.labels);
      else if (o.op === 'remove') activator.removeRevision(o.key);
      else if (o.op === 'fail') activator.failRevision(o.key, o.message);
      else {
        activator.onEndpointEvent(o.ev);
        if (o.ev.type === 'removed') forwarder.forget(o.ev.endpoint.url);
      }
    }
  };
  apply(init.replay);
  const phase = new GatewayPhase(init.serving ? 'serving' : 'starting');
  const tls = dataTls(cfg, gatewayLogger);
  const tracing = await gatewayTracing(cfg, process.env, { clock, logger, metrics, activeReplicas: (k) => activator.activeReplicas(k) });
  // The primary's admin API keeps the keys; it sends each change before it answers (docs/architecture.md).
  const apiKeys = new KeyDirectory(init.apiKeys);
  const auth = dataAuth(cfg, { clock, logger: gatewayLogger, registry: metrics.registry, keys: apiKeys });
  const logging = requestLogging(cfg, { clock, logger: gatewayLogger, metrics });
  const pipeline = gatewayPipeline({
    logging: logging.stage,
    clock,
    logger: gatewayLogger,
    metrics,
    collector,
    outcomes,
    tracing: tracing?.stage,
    auth: auth.stage,
    batching: batchingSettings(cfg),
    ingress: ingressSettings(cfg),
    store,
  });
  const gateway = new Gateway({ clock, logger: gatewayLogger, metrics, snapshot, activator, forwarder, pipeline, clientLimits: clientLimits(cfg), http1Server: cfg.http1Server, grpc: grpcLimits(cfg), phase });

  // Held requests and in-flight per revision, for the primary's autoscaler and local backend (changes only).
  const lastHeld = new Map<string, number>();
  const lastInflight = new Map<string, number>();
  const keys = new Set<string>();
  const report = (): void => {
    const held: Array<[string, number]> = [];
    const inflight: Array<[string, number]> = [];
    for (const k of new Set([...keys, ...lastHeld.keys(), ...lastInflight.keys()])) {
      const h = activator.held(k);
      const f = collector.inflight(k);
      if ((lastHeld.get(k) ?? 0) !== h) held.push([k, h]);
      if ((lastInflight.get(k) ?? 0) !== f) inflight.push([k, f]);
      if (h === 0) lastHeld.delete(k);
      else lastHeld.set(k, h);
      if (f === 0) lastInflight.delete(k);
      else lastInflight.set(k, f);
    }
    if (held.length || inflight.length) send({ t: 'report', held, inflight });
    outcomes.flush();
  };
  const reportTimer = setInterval(report, REPORT_MS);

  let draining: Promise<void> | null = null;
  const data = gateway.createServer({ tls: tls ?? undefined });
  const internal = cfg.internalPort >= 0 ? gateway.createServer({ internal: true, tls: tls ?? undefined }) : null;
  const drain = (): Promise<void> => {
    draining ??= (async () => {
      if (internal) {
        internal.close();
        internal.closeAllConnections();
      }
      await drainGateway({ server: data, gateway, graceMs: cfg.shutdownGraceSeconds * 1000, clock, logger: gatewayLogger, metrics });
      await logging.delivery.close(cfg.loggerShutdownSeconds * 1000);
      activator.close();
      collector.close();
      await collector.flush();
      clearInterval(reportTimer);
      report();
      grpcOnly?.server.close();
      gateway.closeGrpc();
      await forwarder.close();
      await tracing?.shutdown(TRACING_SHUTDOWN_MS);
      auth.close();
      process.disconnect?.();
    })();
    return draining;
  };

  handler = (m: ToWorker) => {
    switch (m.t) {
      case 'snapshot':
        snapshot.publish(m.snapshot);
        break;
      case 'dispatch':
        for (const o of m.ops) if (o.op === 'add') keys.add(o.key);
        apply(m.ops);
        for (const o of m.ops)
          if (o.op === 'remove') {
            keys.delete(o.key);
            busySentAt.delete(o.key);
          }
        break;
      case 'board':
        membership.update(m.members, m.departed, m.records);
        break;
      case 'excess':
        for (const [k, v] of m.entries) activator.setExcessBurstCapacity(k, v);
        break;
      case 'serving':
        phase.serving();
        break;
      case 'keys':
        if (m.add) apiKeys.add(m.add);
        if (m.remove !== undefined) apiKeys.remove(m.remove);
        send({ t: 'keys-ack', seq: m.seq });
        break;
      case 'metrics':
        void metrics.registry.getMetricsAsJSON().then(
          (json) => send({ t: 'metrics', id: m.id, json }),
          (err: unknown) => logger.warn({ err: errorMessage(err) }, 'could not read the metrics registry'),
        );
        break;
      case 'token':
        store.answer(m.id, { allowed: m.allowed, retryAfterMs: m.retryAfterMs });
        break;
      case 'drain':
        void drain().then(
          () => process.exit(0),
          (err: unknown) => {
            logger.error({ err: errorMessage(err) }, 'worker drain failed');
            process.exit(1);
          },
        );
        break;
      default:
        break;
    }
  };
  for (const m of early.splice(0)) handler(m);
  for (const o of init.replay) if (o.op === 'add') keys.add(o.key);
  // The primary coordinates stopping (it sends 'drain'); a signal to the whole process group is left to it.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  // The primary is gone: finish what is in flight and stop.
  process.on('disconnect', () => {
    if (!draining) void drain().finally(() => process.exit(0));
  });

  await forwarder.warmUp();
  const port = await listen(data, cfg.dataPort, cfg.dataHost);
  const internalPort = internal ? await listen(internal, cfg.internalPort, cfg.internalHost) : null;
  const grpcOnly = await listenGrpc(gateway, cfg);
  send({ t: 'listening', port, grpcPort: grpcOnly?.port ?? null, internalPort });
}
