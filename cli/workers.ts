import cluster, { type Worker } from 'node:cluster';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry, Gauge, type Registry } from 'prom-client';
import type { ApiKeyRecord } from '../api/api-keys.js';
import type { Endpoint, EndpointEvent } from '../api/backend.js';
import type { Clock } from '../core/clock.js';
import type { CredentialFile } from '../deploy/auth/credential-file.js';
import { LocalBuckets } from '../gateway/stages/token-buckets.js';
import type { ServeConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { Store } from '../core/store.js';
import type { DataPlaneSnapshot, SnapshotHolder } from '../gateway/data-plane.js';
import type { OutcomeRecorder } from '../gateway/outcome-recorder.js';
import type { Dispatch } from '../deploy/controller.js';
import { BUSY_WINDOW_MS, type DispatchOp, type FromWorker, type RevisionLabels, type ToWorker } from './worker-protocol.js';

/** What the primary's control plane gives its workers (cli/embedded.ts). */
export interface WorkerPoolContext {
  config: ServeConfig;
  stateDir: string;
  snapshot: SnapshotHolder;
  /** The primary's store: workers' metric buckets are added to it (summed per revision, as from several gateways). */
  store: Store;
  /** The controller's rollout gate reads outcomes here. */
  outcomes: OutcomeRecorder;
  /** Wakes a revision (and what wakes with it), as the in-process activator's poke does. */
  poke: (revisionKey: string) => void;
  /** The autoscaler's excess burst capacity per revision (the activator's path mode). */
  excess: (revisionKey: string) => number;
  /** The primary's registry: `/metrics` merges the workers' registries into it (`metrics`). */
  registry: Registry;
  /** The admin API's keys: every change reaches each worker before the API answers (`onChange`). */
  apiKeys: CredentialFile<ApiKeyRecord>;
  /** For the rate-limit buckets kept here for every worker. */
  clock: Clock;
}

export interface WorkerPorts {
  dataPort: number;
  grpcPort: number | null;
  internalPort: number | null;
}

interface WorkerState {
  id: string;
  worker: Worker;
  listening: boolean;
  held: Map<string, number>;
  inflight: Map<string, number>;
  /** Per revision, when the worker last said it had requests in flight for it ('busy' or 'report'; Date.now()). */
  busyAt: Map<string, number>;
  startedAt: number;
  /** Set when it exited and its channel is still open: the wait for its last messages. */
  exitWait?: NodeJS.Timeout;
}

interface RevisionReplay {
  labels: RevisionLabels;
  /** Replicas in rotation now (a worker started later gets them as 'ready'). */
  ready: Map<string, Endpoint>;
}

const START_TIMEOUT_MS = 30_000;
const EXCESS_EVERY_MS = 500;
/** How long a dead worker's last messages are waited for (its channel closes once they are read). */
const EXIT_READ_MS = 1_000;
/** A worker that dies within this of its start is started again only after a growing pause (at most 5 s). */
const QUICK_DEATH_MS = 2_000;
/** How long a scrape of `/metrics` waits for the workers' registries; one that has not answered is left out. */
export const METRICS_WAIT_MS = 1_000;
/** How long a key's creation or revocation waits for every worker to confirm it before the admin API answers. */
export const KEYS_WAIT_MS = 1_000;

/**
 * The primary's side of `sluice serve --workers N`: forks N data-plane workers through node:cluster (they share
 * the data port), feeds them the data plane snapshot and the controller's dispatch, keeps their membership and
 * published records (each worker's Activator splits replica capacity with the others through it), sums what
 * they report for the autoscaler, and starts a worker again when one dies (its share frees at once).
 */
export class WorkerPool {
  private readonly workers = new Map<string, WorkerState>();
  private readonly records = new Map<string, Record<string, string>>();
  /**
   * Workers that died with requests in flight, with the revisions those were for: until those requests' deadlines
   * have passed, the share each last settled on stays out of the others' (core/membership.ts, departed), as one
   * gateway keeps a slot until its request ends. They are not members: a worker started in one's place takes part
   * in the rest at once.
   */
  private readonly departed = new Map<string, { timer: NodeJS.Timeout; keys: string[] }>();
  private readonly revisions = new Map<string, RevisionReplay>();
  private ctx: WorkerPoolContext | null = null;
  private serving = false;
  private closing = false;
  private next = 0;
  private quickDeaths = 0;
  private excessTimer: NodeJS.Timeout | null = null;
  private stopSnapshot: () => void = () => {};
  private firstPorts: WorkerPorts | null = null;
  private onListening: (() => void) | null = null;
  /** The excess burst capacity last sent per revision. */
  private readonly lastExcess = new Map<string, number>();
  /** The scrape under way (scrapes that come meanwhile share it: at most one is ever pending). */
  private scrape: Promise<Registry> | null = null;
  private scrapeId = 0;
  private onMetrics: ((w: WorkerState, id: number, json: unknown[]) => void) | null = null;
  private workersGauge: Gauge | null = null;
  private answeredGauge: Gauge | null = null;
  /** Key changes sent and not yet confirmed by every worker (seq → workers still to confirm, done). */
  private keysSeq = 0;
  private readonly keysPending = new Map<number, { left: Set<string>; done: () => void }>();
  /** Rate-limit buckets shared by the workers (docs/security.md, "Rate limits across gateways"). */
  private buckets: LocalBuckets | null = null;

  constructor(
    readonly count: number,
    private readonly logger: Logger,
  ) {}

  /** The controller's dispatch: the primary's own activator (status, `replicas`) and every worker. */
  tee(inner: Dispatch): Dispatch {
    return {
      addRevision: (key, labels) => {
        inner.addRevision(key, labels);
        if (!this.revisions.has(key)) this.revisions.set(key, { labels: { ...labels }, ready: new Map() });
        this.broadcast({ t: 'dispatch', ops: [{ op: 'add', key, labels: { ...labels } }] });
      },
      removeRevision: (key) => {
        inner.removeRevision(key);
        this.revisions.delete(key);
        for (const w of this.workers.values()) w.busyAt.delete(key);
        this.broadcast({ t: 'dispatch', ops: [{ op: 'remove', key }] });
      },
      onEndpointEvent: (ev: EndpointEvent) => {
        inner.onEndpointEvent(ev);
        const r = this.revisions.get(ev.endpoint.revisionKey);
        if (r) {
          if (ev.type === 'ready') r.ready.set(ev.endpoint.id, ev.endpoint);
          else r.ready.delete(ev.endpoint.id);
        }
        this.broadcast({ t: 'dispatch', ops: [{ op: 'endpoint', ev }] });
      },
      failRevision: (key, message) => {
        inner.failRevision?.(key, message);
        this.broadcast({ t: 'dispatch', ops: [{ op: 'fail', key, message }] });
      },
    };
  }

  /** Requests held for the revision, summed over workers. */
  held(key: string): number {
    let n = 0;
    for (const w of this.workers.values()) n += w.held.get(key) ?? 0;
    return n;
  }

  /** Requests in flight for the revision, summed over workers. */
  inflight(key: string): number {
    let n = 0;
    for (const w of this.workers.values()) n += w.inflight.get(key) ?? 0;
    return n;
  }

  /** The live workers' ids (sorted), as every worker's membership sees them. */
  members(): string[] {
    return [...this.workers.values()]
      .filter((w) => w.listening)
      .map((w) => w.id)
      .sort();
  }

  /** Forks the workers; resolves with the ports once every one listens. */
  async start(ctx: WorkerPoolContext): Promise<WorkerPorts> {
    this.ctx = ctx;
    this.workersGauge = new Gauge({ name: 'sluice_workers', help: 'Data-plane worker processes listening (sluice serve --workers N).', registers: [ctx.registry] });
    this.answeredGauge = new Gauge({
      name: 'sluice_workers_scraped',
      help: `Workers whose metrics are in this scrape (a worker that does not answer within ${METRICS_WAIT_MS} ms is left out).`,
      registers: [ctx.registry],
    });
    this.buckets = new LocalBuckets(ctx.clock, ctx.config.rateLimitBuckets);
    ctx.apiKeys.onChange = (change) => this.keysChanged(change);
    // Workers accept from the shared socket themselves (no hand-off through this process): a connection never
    // waits in the primary for a worker that has just died, and the primary does no work per connection.
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    cluster.setupPrimary({ exec: join(dirname(fileURLToPath(import.meta.url)), 'worker-main.js'), args: [], serialization: 'advanced' });
    this.stopSnapshot = ctx.snapshot.subscribe((snapshot) => this.broadcast({ t: 'snapshot', snapshot }));
    const all = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`workers did not all listen within ${START_TIMEOUT_MS / 1000} s (workers=${this.count})`)), START_TIMEOUT_MS);
      this.onListening = () => {
        if (this.members().length < this.count) return;
        clearTimeout(timer);
        this.onListening = null;
        resolve();
      };
    });
    for (let i = 0; i < this.count; i++) this.fork();
    await all;
    // Changed values only (a worker started later gets every value in its first round).
    this.excessTimer = setInterval(() => {
      const entries: Array<[string, number]> = [];
      for (const k of this.revisions.keys()) {
        const v = ctx.excess(k);
        if (this.lastExcess.get(k) !== v) entries.push([k, v]);
        this.lastExcess.set(k, v);
      }
      for (const k of this.lastExcess.keys()) if (!this.revisions.has(k)) this.lastExcess.delete(k);
      if (entries.length) this.broadcast({ t: 'excess', entries });
    }, EXCESS_EVERY_MS);
    this.excessTimer.unref();
    return this.firstPorts!;
  }

  /** The config folder is loaded: workers answer ready. */
  markServing(): void {
    this.serving = true;
    this.broadcast({ t: 'serving' });
  }

  /** Every worker drains (in-flight requests finish within shutdownGraceSeconds) and exits. */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.ctx) this.ctx.apiKeys.onChange = null;
    for (const p of this.keysPending.values()) p.done();
    this.stopSnapshot();
    if (this.excessTimer) clearInterval(this.excessTimer);
    for (const d of this.departed.values()) clearTimeout(d.timer);
    this.departed.clear();
    const exits = [...this.workers.values()].map(
      (w) =>
        new Promise<void>((resolve) => {
          if (w.worker.isDead()) return resolve();
          const kill = setTimeout(() => {
            this.logger.warn({ worker: w.id }, 'worker did not stop after its drain; killing it');
            w.worker.process.kill('SIGKILL');
          }, graceMs + 10_000);
          w.worker.once('exit', () => {
            clearTimeout(kill);
            resolve();
          });
          this.sendTo(w, { t: 'drain' });
        }),
    );
    await Promise.all(exits);
  }

  /**
   * The registry `/metrics` shows: this process's, merged with every worker's (asked over IPC, at most
   * METRICS_WAIT_MS) by prom-client's AggregatorRegistry rules: each series once, summed over processes
   * (histograms bucket by bucket), a metric's own `aggregator` where it has one (in-path state: max; Node's
   * version: first; its event-loop lag: average).
   */
  metrics(own: Registry): Promise<Registry> {
    // Scraped before the workers were started: this process's own.
    if (!this.ctx) return Promise.resolve(own);
    this.scrape ??= this.collect().finally(() => {
      this.scrape = null;
    });
    return this.scrape;
  }

  private async collect(): Promise<Registry> {
    const ctx = this.ctx!;
    const id = ++this.scrapeId;
    const targets = [...this.workers.values()].filter((w) => w.listening && w.worker.isConnected());
    const answers = new Map<string, unknown[]>();
    await new Promise<void>((resolve) => {
      if (targets.length === 0) return resolve();
      const finish = (): void => {
        clearTimeout(timer);
        this.onMetrics = null;
        resolve();
      };
      const timer = setTimeout(finish, METRICS_WAIT_MS);
      this.onMetrics = (w, answerId, json) => {
        if (answerId !== id || !targets.includes(w)) return;
        answers.set(w.id, json);
        if (answers.size === targets.length) finish();
      };
      for (const w of targets) this.sendTo(w, { t: 'metrics', id });
    });
    if (answers.size < targets.length)
      this.logger.warn({ asked: targets.length, answered: answers.size, waitedMs: METRICS_WAIT_MS }, 'some workers did not send their metrics in time: this scrape leaves them out');
    this.workersGauge!.set(targets.length);
    this.answeredGauge!.set(answers.size);
    const own = await ctx.registry.getMetricsAsJSON();
    return AggregatorRegistry.aggregate([own, ...answers.values()] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  }

  /** Sends a key's creation or revocation to every worker; resolves once all confirmed it, or after KEYS_WAIT_MS. */
  private keysChanged(change: { added?: ApiKeyRecord; removed?: ApiKeyRecord }): Promise<void> {
    const seq = ++this.keysSeq;
    const targets = [...this.workers.values()].filter((w) => w.worker.isConnected());
    const m: ToWorker = { t: 'keys', seq, ...(change.added ? { add: change.added } : {}), ...(change.removed ? { remove: change.removed.id } : {}) };
    if (targets.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.keysPending.delete(seq);
        resolve();
      };
      const timer = setTimeout(() => {
        const p = this.keysPending.get(seq);
        this.logger.warn({ workers: p ? [...p.left] : [], waitedMs: KEYS_WAIT_MS }, 'workers did not confirm an API key change in time (it reaches them in order, after what they are doing)');
        done();
      }, KEYS_WAIT_MS);
      this.keysPending.set(seq, { left: new Set(targets.map((w) => w.id)), done });
      for (const w of targets) this.sendTo(w, m);
    });
  }

  private fork(): void {
    const id = `w${String(++this.next).padStart(4, '0')}`;
    const worker = cluster.fork();
    const st: WorkerState = { id, worker, listening: false, held: new Map(), inflight: new Map(), busyAt: new Map(), startedAt: Date.now() };
    this.workers.set(id, st);
    worker.on('message', (m: FromWorker) => this.onMessage(st, m));
    worker.on('exit', (code, signal) => this.onExit(st, code, signal));
    worker.on('error', (err) => this.logger.warn({ worker: id, err: err.message }, 'worker channel error'));
  }

  private onMessage(w: WorkerState, m: FromWorker): void {
    const ctx = this.ctx!;
    switch (m.t) {
      case 'hello': {
        const replay: DispatchOp[] = [];
        for (const [key, r] of this.revisions) {
          replay.push({ op: 'add', key, labels: r.labels });
          for (const endpoint of r.ready.values()) replay.push({ op: 'endpoint', ev: { type: 'ready', endpoint } });
        }
        this.sendTo(w, { t: 'init', id: w.id, config: ctx.config, stateDir: ctx.stateDir, snapshot: ctx.snapshot.current, replay, serving: this.serving, apiKeys: ctx.apiKeys.list() });
        this.sendTo(w, { t: 'board', ...this.board() });
        if (this.lastExcess.size) this.sendTo(w, { t: 'excess', entries: [...this.lastExcess] });
        break;
      }
      case 'listening':
        w.listening = true;
        this.firstPorts ??= { dataPort: m.port, grpcPort: m.grpcPort, internalPort: m.internalPort };
        this.logger.info({ worker: w.id, pid: w.worker.process.pid }, 'worker listening');
        this.broadcastBoard();
        this.onListening?.();
        break;
      case 'buckets':
        void ctx.store.addBuckets(m.key, m.instance, m.buckets);
        break;
      case 'poke':
        setCount(w.held, m.key, m.held);
        ctx.poke(m.key);
        break;
      case 'busy':
        w.busyAt.set(m.key, Date.now());
        break;
      case 'report':
        for (const [k, n] of m.held) setCount(w.held, k, n);
        for (const [k, n] of m.inflight) {
          setCount(w.inflight, k, n);
          if (n > 0) w.busyAt.set(k, Date.now());
        }
        break;
      case 'outcomes':
        for (const [k, at, status, total, cold] of m.list) ctx.outcomes.record(k, at, status, total, cold);
        break;
      case 'metrics':
        this.onMetrics?.(w, m.id, m.json);
        break;
      case 'keys-ack': {
        const p = this.keysPending.get(m.seq);
        p?.left.delete(w.id);
        if (p?.left.size === 0) p.done();
        break;
      }
      case 'token': {
        // The key (scope and client) as the client: LocalBuckets bounds clients (rateLimitBuckets, least recently
        // used dropped first), not the scopes of one client.
        const a = this.buckets!.take('', m.key, { rate: m.rate, burst: m.burst });
        this.sendTo(w, { t: 'token', id: m.id, allowed: a.allowed, retryAfterMs: a.retryAfterMs });
        break;
      }
      case 'publish':
        if (!this.workers.has(w.id)) break;
        this.records.set(w.id, m.record);
        this.broadcastBoard();
        break;
      default:
        break;
    }
  }

  private onExit(w: WorkerState, code: number | null, signal: string | null): void {
    // 'exit' can come before the last messages the worker sent are read ('busy', 'report'); they decide how long
    // its share is kept, so wait for its channel to close (all read). It stays a member meanwhile.
    if (w.worker.isConnected() && !w.exitWait) {
      w.exitWait = setTimeout(() => this.onExit(w, code, signal), EXIT_READ_MS);
      w.worker.once('disconnect', () => {
        clearTimeout(w.exitWait!);
        this.onExit(w, code, signal);
      });
      return;
    }
    if (!this.workers.has(w.id)) return;
    this.workers.delete(w.id);
    // A worker started in its place reads the keys from its 'init'.
    for (const p of this.keysPending.values()) {
      p.left.delete(w.id);
      if (p.left.size === 0) p.done();
    }
    // The requests it had forwarded may still run on their replicas. For those revisions its share is kept out of
    // the others' (its record unchanged) until their deadlines have passed; otherwise it frees at once. Either
    // way the others' limits grow once they have all settled on the new membership.
    const { holdMs, keys } = this.closing ? { holdMs: 0, keys: [] } : this.departedHold(w);
    if (holdMs > 0) {
      this.logger.warn({ worker: w.id, holdMs, revisions: keys }, 'worker stopped with requests in flight: its capacity share is kept until their deadlines pass');
      const timer = setTimeout(() => {
        this.departed.delete(w.id);
        this.records.delete(w.id);
        this.broadcastBoard();
      }, holdMs);
      timer.unref();
      this.departed.set(w.id, { timer, keys });
    } else this.records.delete(w.id);
    this.broadcastBoard();
    if (this.closing) return;
    this.logger.warn({ worker: w.id, pid: w.worker.process.pid, code, signal }, 'worker stopped; starting another');
    this.quickDeaths = Date.now() - w.startedAt < QUICK_DEATH_MS ? this.quickDeaths + 1 : 0;
    const pause = this.quickDeaths === 0 ? 0 : Math.min(5_000, 100 * 2 ** this.quickDeaths);
    setTimeout(() => {
      if (!this.closing) this.fork();
    }, pause).unref();
  }

  /**
   * Which revisions keep a dead worker's share, and how long: the bounded ones (containerConcurrency > 0) it had
   * requests in flight for at its last report (they come every 100 ms), or said it was busy with within
   * BUSY_WINDOW_MS (a request begun after the last report sent 'busy' at once); the longest of their timeouts.
   * None and 0 when it had no such request.
   */
  private departedHold(w: WorkerState): { holdMs: number; keys: string[] } {
    const now = Date.now();
    let holdMs = 0;
    const keys: string[] = [];
    for (const [key, at] of w.busyAt) {
      if (now - at > BUSY_WINDOW_MS && !w.inflight.get(key)) continue;
      const rev = this.ctx?.snapshot.current.revisions.get(key);
      if (rev === undefined || rev.containerConcurrency === 0) continue;
      holdMs = Math.max(holdMs, rev.timeoutMs);
      keys.push(key);
    }
    return { holdMs, keys };
  }

  private board(): Omit<Extract<ToWorker, { t: 'board' }>, 't'> {
    const members = this.members();
    const departed = [...this.departed].map(([id, d]) => [id, d.keys] as [string, string[]]);
    const records = [...members, ...this.departed.keys()].flatMap((m) => (this.records.has(m) ? [[m, this.records.get(m)!] as [string, Record<string, string>]] : []));
    return { members, departed, records };
  }

  private broadcastBoard(): void {
    this.broadcast({ t: 'board', ...this.board() });
  }

  private broadcast(m: ToWorker): void {
    for (const w of this.workers.values()) this.sendTo(w, m);
  }

  private sendTo(w: WorkerState, m: ToWorker): void {
    if (!w.worker.isConnected()) return;
    try {
      w.worker.send(m);
    } catch (err) {
      this.logger.warn({ worker: w.id, err: String(err) }, 'could not send to a worker');
    }
  }
}

function setCount(m: Map<string, number>, k: string, n: number): void {
  if (n > 0) m.set(k, n);
  else m.delete(k);
}

export type { DataPlaneSnapshot };
