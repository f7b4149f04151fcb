/**
 * The local backend: each replica of a revision is a child process on a free loopback port, started from
 * the runtime's LocalLaunchRecipe. Replicas are announced when their readiness path answers 2xx (probed at
 * spawn, on each line they print while starting, and periodically: see readiness-schedule.ts), drained
 * and stopped gracefully on scale-down, restarted with backoff when they crash, and never outlive Sluice
 * (close(), a process 'exit' hook, an open stdin pipe the runtime may watch, and pidfiles reaped on start).
 * Every start goes through one global replica budget (replica-budget.ts): replicas past it stay pending, in an
 * admission queue, and start as others exit.
 */
import { statSync } from 'node:fs';
import { SystemClock, type Clock, type TimerHandle } from '../../../core/clock.js';
import { SERVE_DEFAULTS } from '../../../core/config.js';
import { revisionKey as keyOf, type Revision } from '../../../api/revision.js';
import type { AdmissionStatus, Backend, Endpoint, EndpointEvent, ReplicaCounts } from '../../../api/backend.js';
import { parseQuantity } from '../../../core/quantity.js';
import { ReplicaBudget, type ReplicaBudgetLimits, type ReplicaBudgetObserver } from './replica-budget.js';
import { silentLogger, type BackendLogger } from './backend-logger.js';
import { findFreePort } from './free-port.js';
import type { GpuAllocator } from '../../../autoscaler/policies/gpu-inventory.js';
import type { LocalReplicaProcess } from './usage.js';
import { modelDirFromStorageUri, recipeServesGrpc, renderLaunch, type LaunchContext } from './launch-template.js';
import { PidFiles, defaultStateDir } from './pidfiles.js';
import { DEFAULT_RESTART_BACKOFF, RestartBackoff, type RestartBackoffOptions } from './restart-backoff.js';
import { ReplicaProcess, describeExit, type ReplicaExit } from './replica-process.js';

export interface LocalBackendOptions {
  /** Repository root, for `{{sluiceRoot}}` (where dist/ lives). */
  sluiceRoot: string;
  clock?: Clock;
  logger?: BackendLogger;
  /** `{{python}}`; default `python3`. */
  pythonPath?: string;
  /** `{{node}}`; default this process's Node binary. */
  nodePath?: string;
  /** Interface replicas listen on; default 127.0.0.1. */
  host?: string;
  /** Readiness probe period while a replica starts; default: the table's replicaProbeIntervalMs. */
  probeIntervalMs?: number;
  /**
   * Shortest readiness probe period, used while requests wait for the revision (backing off with the start-up
   * time) and as the least gap before a probe that the replica's own output asks for; default: the table's replicaProbeFastIntervalMs.
   */
  probeFastIntervalMs?: number;
  /** Requests waiting now for a revision (embedded mode: held by the activator); starting replicas are probed faster while any wait. */
  waiting?: (revisionKey: string) => number;
  /** Timeout of one readiness probe; default 1000 ms. */
  probeTimeoutMs?: number;
  /** SIGTERM → SIGKILL delay; default the revision's timeoutSeconds, else 30 s. */
  stopGracePeriodMs?: number;
  /** Delay between the 'draining' event and SIGTERM, so routers stop picking the replica; default 50 ms. */
  drainDelayMs?: number;
  /** Crash-loop backoff; default 200 ms doubling to 10 s, reset after 30 s ready. */
  restartBackoff?: Partial<RestartBackoffOptions>;
  /**
   * Cap on replicas per revision, whatever scale() asks; default none (the autoscaler's maxScale, at most 100,
   * bounds a revision, and the global budget bounds what runs).
   */
  maxReplicasPerRevision?: number;
  /** The global budget; default DEFAULT_REPLICA_BUDGET. */
  budget?: Partial<ReplicaBudgetLimits>;
  /** Memory a replica counts against the budget when its runtime requests none (bytes); default 256 MiB. */
  defaultReplicaMemoryBytes?: number;
  /** Budget gauges and the deferred-admissions counter. */
  budgetObserver?: ReplicaBudgetObserver;
  /** Where pidfiles live; default `<tmpdir>/sluice-<uid>/local-backend`. */
  stateDir?: string;
  /** GPU devices replicas are pinned to (CUDA_VISIBLE_DEVICES …); none when absent. */
  gpuAllocator?: GpuAllocator;
  /** Base for relative storageUri paths; default process.cwd(). */
  cwd?: string;
  /**
   * `host:port` of Sluice's data port, as a replica reaches it: a transformer or explainer is given
   * `<this><revision.predictorPath>` as its `--predictor_host`, so its calls go through the gateway and activator.
   */
  gatewayAddress?: () => string | undefined;
}

type Phase = 'allocating' | 'starting' | 'ready' | 'stopping';

/**
 * Budget used when none is given (tests, embedders): the configuration table's defaults, so an embedder gets the
 * same bound as `sluice serve` (which passes its configuration's).
 */
export const DEFAULT_REPLICA_BUDGET: ReplicaBudgetLimits = { maxReplicas: SERVE_DEFAULTS.maxReplicasTotal, memoryBytes: SERVE_DEFAULTS.replicaMemoryBudget };
export const DEFAULT_REPLICA_MEMORY_BYTES = SERVE_DEFAULTS.replicaMemoryDefault;

interface Replica {
  n: number;
  id: string;
  phase: Phase;
  proc: ReplicaProcess | null;
  /** Set once the replica was announced ready (the only replicas that get 'draining'/'removed'). */
  endpoint: Endpoint | null;
  /** The replica's gRPC address when its recipe serves gRPC. */
  grpcUrl: string | null;
  readyAt: number | null;
  stopReason: string | null;
  failure: string | null;
  /** What the replica holds of the memory budget until its process exits. */
  memoryBytes: number;
  /** Set once the budget share is given back (exactly once). */
  released: boolean;
  done: Promise<void>;
  resolveDone: () => void;
}

interface RevisionState {
  key: string;
  revision: Revision;
  modelDir: string;
  desired: number;
  replicas: Map<number, Replica>;
  nextN: number;
  backoff: RestartBackoff;
  retryTimer: TimerHandle | null;
  /** Consecutive EADDRINUSE start failures (retried at once, up to MAX_PORT_RACES). */
  portRaces: number;
  removing: boolean;
  /** Had replicas pending for want of budget at some point (it then reports ResourcesAvailable). */
  waitedForBudget: boolean;
  /** What one replica counts against the memory budget (from the revision's memory request). */
  memoryBytes: number;
}

const MAX_PORT_RACES = 3;

export class LocalBackend implements Backend {
  private readonly clock: Clock;
  private readonly logger: BackendLogger;
  private readonly host: string;
  private readonly probeIntervalMs: number;
  private readonly probeFastIntervalMs: number;
  private readonly probeTimeoutMs: number;
  private readonly drainDelayMs: number;
  private readonly maxReplicas: number;
  private readonly backoffOptions: RestartBackoffOptions;
  private readonly pidfiles: PidFiles;
  private readonly revisions = new Map<string, RevisionState>();
  private readonly gpuAllocator: GpuAllocator | undefined;
  /** Revisions with a replica that could not start for want of a free GPU. */
  private readonly gpuWaiting = new Set<string>();
  private readonly budget: ReplicaBudget;
  private readonly defaultMemoryBytes: number;
  private admitting = false;
  private readonly listeners = new Set<(event: EndpointEvent) => void>();
  private closed = false;
  private closing: Promise<void> | null = null;
  private readonly onProcessExit = (): void => this.killAllNow();

  constructor(private readonly opts: LocalBackendOptions) {
    this.clock = opts.clock ?? new SystemClock();
    this.logger = opts.logger ?? silentLogger;
    this.host = opts.host ?? '127.0.0.1';
    this.probeIntervalMs = opts.probeIntervalMs ?? SERVE_DEFAULTS.replicaProbeIntervalMs;
    this.probeFastIntervalMs = opts.probeFastIntervalMs ?? SERVE_DEFAULTS.replicaProbeFastIntervalMs;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 1_000;
    this.drainDelayMs = opts.drainDelayMs ?? 50;
    this.maxReplicas = opts.maxReplicasPerRevision ?? Infinity;
    this.budget = new ReplicaBudget({ ...DEFAULT_REPLICA_BUDGET, ...opts.budget }, opts.budgetObserver ?? null);
    this.defaultMemoryBytes = opts.defaultReplicaMemoryBytes ?? DEFAULT_REPLICA_MEMORY_BYTES;
    this.gpuAllocator = opts.gpuAllocator;
    this.backoffOptions = { ...DEFAULT_RESTART_BACKOFF, ...opts.restartBackoff };
    this.pidfiles = new PidFiles(opts.stateDir ?? defaultStateDir());
    const reaped = this.pidfiles.reapStale();
    if (reaped.length > 0) this.logger.warn({ pids: reaped }, 'killed replicas left behind by an earlier run');
    process.on('exit', this.onProcessExit);
  }

  async apply(revision: Revision): Promise<void> {
    this.assertOpen();
    const key = keyOf(revision);
    if (!revision.local && revision.component !== 'predictor') {
      throw new Error(
        `revision ${key}: the ${revision.component}'s container has no command; locally a custom container runs as its command (the image is not used), so set spec.${revision.component}.containers[0].command`,
      );
    }
    if (!revision.local) {
      throw new Error(
        `revision ${key}: runtime ${revision.runtime.name} has no local launch recipe, so the local backend cannot run it`,
      );
    }
    const modelDir = modelDirFromStorageUri(revision.storageUri, this.opts.cwd);
    if (modelDir) {
      let isDir = false;
      try {
        isDir = statSync(modelDir).isDirectory();
      } catch {
        isDir = false;
      }
      if (!isDir) throw new Error(`revision ${key}: model directory ${modelDir} (from storageUri ${revision.storageUri}) does not exist`);
    }
    // Render once now so a bad template fails at apply, not at the first scale-up.
    renderLaunch(revision.local, revision.container.env, this.context(revision, modelDir, 0));
    const existing = this.revisions.get(key);
    const memoryBytes = replicaMemoryRequest(revision, this.defaultMemoryBytes);
    if (existing) {
      existing.revision = revision;
      existing.modelDir = modelDir;
      existing.memoryBytes = memoryBytes;
      return;
    }
    this.revisions.set(key, {
      key,
      revision,
      modelDir,
      desired: 0,
      replicas: new Map(),
      nextN: 1,
      backoff: new RestartBackoff(this.backoffOptions),
      retryTimer: null,
      portRaces: 0,
      removing: false,
      waitedForBudget: false,
      memoryBytes,
    });
  }

  async scale(revisionKey: string, replicas: number): Promise<void> {
    this.assertOpen();
    const state = this.revisions.get(revisionKey);
    if (!state || state.removing) throw new Error(`unknown revision ${revisionKey}: apply it before scaling`);
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new Error(`replicas for ${revisionKey} must be a non-negative integer, got ${replicas}`);
    }
    if (replicas > this.maxReplicas) {
      this.logger.warn({ revision: revisionKey, asked: replicas, cap: this.maxReplicas }, 'replicas capped');
    }
    state.desired = Math.min(replicas, this.maxReplicas);
    this.reconcile(state);
  }

  async remove(revisionKey: string): Promise<void> {
    const state = this.revisions.get(revisionKey);
    if (!state) return;
    state.removing = true;
    state.desired = 0;
    this.budget.setPending(revisionKey, 0);
    this.cancelRetry(state);
    await Promise.all([...state.replicas.values()].map((r) => this.stopReplica(state, r, 'revision removed')));
    this.revisions.delete(revisionKey);
    this.admitPending();
  }

  /** Replicas accepted but waiting for the global budget, and the ResourcesAvailable condition. */
  admission(revisionKey: string): AdmissionStatus | null {
    const state = this.revisions.get(revisionKey);
    if (!state) return null;
    const pending = this.budget.pending(revisionKey);
    if (pending > 0) return { pending, condition: this.budget.pendingCondition(revisionKey, this.memoryOf(state)) };
    return { pending: 0, condition: state.waitedForBudget ? this.budget.admittedCondition() : null };
  }

  /** The budget's use now (diagnostics and tests). */
  budgetInUse(): { replicas: number; memoryBytes: number; pending: number } {
    return { replicas: this.budget.replicasInUse, memoryBytes: this.budget.memoryInUse, pending: this.budget.pendingReplicas };
  }

  /** Live replica processes of a revision (CPU/memory usage for the resource policy). */
  replicaProcesses(key: string): LocalReplicaProcess[] {
    const state = this.revisions.get(key);
    if (!state) return [];
    const out: LocalReplicaProcess[] = [];
    for (const r of state.replicas.values()) {
      const pid = r.proc?.pid;
      if (pid !== undefined && r.phase !== 'stopping') out.push({ replicaId: r.id, pid, memoryLimitBytes: memoryLimit(state.revision) });
    }
    return out;
  }

  counts(revisionKey: string): ReplicaCounts {
    const state = this.revisions.get(revisionKey);
    if (!state) return { desired: 0, starting: 0, ready: 0 };
    let starting = 0;
    let ready = 0;
    for (const r of state.replicas.values()) {
      if (r.phase === 'allocating' || r.phase === 'starting') starting++;
      else if (r.phase === 'ready') ready++;
    }
    return { desired: state.desired, starting, ready };
  }

  endpoints(revisionKey: string): Endpoint[] {
    const state = this.revisions.get(revisionKey);
    if (!state) return [];
    const out: Endpoint[] = [];
    for (const r of state.replicas.values()) if (r.phase === 'ready' && r.endpoint) out.push(r.endpoint);
    return out;
  }

  subscribe(listener: (event: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Pids of every replica process still running (for tests and diagnostics). */
  pids(): number[] {
    const out: number[] = [];
    for (const s of this.revisions.values()) {
      for (const r of s.replicas.values()) {
        const pid = r.proc?.pid;
        if (pid !== undefined && !r.proc!.exited) out.push(pid);
      }
    }
    return out;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.closing = (async () => {
      const stops: Promise<void>[] = [];
      for (const state of this.revisions.values()) {
        state.desired = 0;
        this.budget.setPending(state.key, 0);
        this.cancelRetry(state);
        for (const r of state.replicas.values()) stops.push(this.stopReplica(state, r, 'backend closed'));
      }
      await Promise.all(stops);
      this.revisions.clear();
      process.off('exit', this.onProcessExit);
    })();
    return this.closing;
  }

  // --- internals -------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.closed) throw new Error('local backend is closed');
  }

  private context(revision: Revision, modelDir: string, port: number, grpcPort = 0): LaunchContext {
    return {
      port,
      grpcPort,
      modelName: revision.runtimeModelName,
      modelDir,
      storageUri: revision.storageUri ?? '',
      sluiceRoot: this.opts.sluiceRoot,
      node: this.opts.nodePath ?? process.execPath,
      python: this.opts.pythonPath ?? SERVE_DEFAULTS.python,
      predictorHost: this.predictorHost(revision),
    };
  }

  private predictorHost(revision: Revision): string {
    if (revision.predictorPath === undefined) return '';
    const address = this.opts.gatewayAddress?.();
    // Rendered at apply too (port 0): a placeholder then; a replica is only started once the data port is bound.
    return `${address ?? '127.0.0.1:0'}${revision.predictorPath}`;
  }

  private graceMs(revision: Revision): number {
    if (this.opts.stopGracePeriodMs !== undefined) return this.opts.stopGracePeriodMs;
    return revision.timeoutSeconds > 0 ? revision.timeoutSeconds * 1000 : 30_000;
  }

  private emit(event: EndpointEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'endpoint listener threw');
      }
    }
  }

  private cancelRetry(state: RevisionState): void {
    if (state.retryTimer) this.clock.clearTimeout(state.retryTimer);
    state.retryTimer = null;
  }

  /** Brings the number of live (not stopping) replicas to `desired`. */
  private reconcile(state: RevisionState): void {
    if (this.closed || state.removing) return;
    const live = [...state.replicas.values()].filter((r) => r.phase !== 'stopping');
    if (live.length < state.desired) {
      const wait = state.backoff.waitMs(this.clock.now());
      if (wait > 0) {
        // Not pending for the budget while the crash-loop backoff holds it back.
        this.budget.setPending(state.key, 0);
        if (!state.retryTimer) {
          state.retryTimer = this.clock.setTimeout(() => {
            state.retryTimer = null;
            this.reconcile(state);
          }, wait);
        }
        return;
      }
      // Every start goes through the admission queue: the budget decides who starts now, the rest stay pending.
      const before = this.budget.pending(state.key);
      const wanted = state.desired - live.length;
      this.budget.setPending(state.key, wanted);
      this.admitPending();
      const deferred = this.budget.pending(state.key) - before;
      if (this.budget.pending(state.key) > 0) {
        if (!state.waitedForBudget || deferred > 0)
          this.logger.warn({ revision: state.key, ...this.admission(state.key)?.condition }, 'replicas pending: replica budget exhausted');
        state.waitedForBudget = true;
      }
      this.budget.deferred(Math.min(deferred, wanted));
      return;
    }
    this.budget.setPending(state.key, 0);
    if (live.length > state.desired) {
      // Not-ready replicas go first, then the newest ready ones.
      const order = live.sort((a, b) => {
        const ar = a.phase === 'ready' ? 1 : 0;
        const br = b.phase === 'ready' ? 1 : 0;
        return ar !== br ? ar - br : b.n - a.n;
      });
      for (const r of order.slice(0, live.length - state.desired)) void this.stopReplica(state, r, 'scaled down');
    }
  }

  /** Starts pending replicas, in the budget's order, while the budget has room. */
  private admitPending(): void {
    if (this.admitting || this.closed) return;
    this.admitting = true;
    try {
      for (;;) {
        // Nothing can start while every replica place is taken (the common case past the budget: no queue scan).
        if (this.budget.replicasInUse >= this.budget.limits.maxReplicas) return;
        const key = this.budget.next(
          (k) => (this.opts.waiting?.(k) ?? 0) > 0,
          (k) => {
            const s = this.revisions.get(k);
            return s ? this.memoryOf(s) : 0;
          },
        );
        if (key === null) return;
        const state = this.revisions.get(key);
        if (!state || state.removing) {
          this.budget.setPending(key, 0);
          continue;
        }
        const memory = this.memoryOf(state);
        if (this.budget.blocks(memory) !== null) return;
        this.budget.setPending(key, this.budget.pending(key) - 1);
        this.startReplica(state, memory);
      }
    } finally {
      this.admitting = false;
    }
  }

  /** What one replica of the revision counts against the memory budget. */
  private memoryOf(state: RevisionState): number {
    return state.memoryBytes;
  }

  /** Takes a replica out of its revision and gives its budget share back (once); pending replicas may start. */
  private forget(state: RevisionState, replica: Replica, admit = true): void {
    if (state.replicas.get(replica.n) === replica) state.replicas.delete(replica.n);
    if (replica.released) return;
    replica.released = true;
    this.budget.release(replica.memoryBytes);
    if (admit) this.admitPending();
  }

  private startReplica(state: RevisionState, memoryBytes: number): void {
    const n = state.nextN++;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const replica: Replica = {
      n,
      id: `${state.key}#${n}`,
      phase: 'allocating',
      proc: null,
      endpoint: null,
      grpcUrl: null,
      readyAt: null,
      stopReason: null,
      failure: null,
      memoryBytes,
      released: false,
      done,
      resolveDone,
    };
    this.budget.take(memoryBytes);
    state.replicas.set(n, replica);
    void this.launch(state, replica);
  }

  private async launch(state: RevisionState, replica: Replica): Promise<void> {
    let port: number;
    let grpcPort = 0;
    try {
      port = await findFreePort(this.host);
      if (recipeServesGrpc(state.revision.local!)) {
        do grpcPort = await findFreePort(this.host);
        while (grpcPort === port);
      }
    } catch (err) {
      this.logger.error({ replica: replica.id, err: err instanceof Error ? err.message : String(err) }, 'no free port');
      this.onReplicaExit(state, replica, { code: null, signal: null, spawnError: 'no free port', portInUse: false });
      return;
    }
    if (replica.phase === 'stopping') {
      this.forget(state, replica);
      replica.resolveDone();
      this.reconcile(state);
      return;
    }
    const revision = state.revision;
    const launch = renderLaunch(revision.local!, revision.container.env, this.context(revision, state.modelDir, port, grpcPort));
    if (grpcPort > 0) replica.grpcUrl = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${grpcPort}`;
    if (Object.values(revision.gpus).some((n) => n > 0)) {
      // Pin the replica to its own devices; without free devices it cannot start (the autoscaler's GPU policy
      // keeps desired replicas within what fits, so this only happens while others are still stopping).
      const alloc = this.gpuAllocator?.allocate(state.key, replica.id, revision.gpus) ?? null;
      if (!alloc) {
        this.logger.warn({ replica: replica.id, gpus: revision.gpus }, 'no free GPU for the replica; it starts when one frees up');
        this.gpuWaiting.add(state.key);
        this.forget(state, replica);
        replica.resolveDone();
        return;
      }
      Object.assign(launch.env, alloc.env);
    }
    const proc = new ReplicaProcess(
      {
        id: replica.id,
        host: this.host,
        port,
        launch,
        probeIntervalMs: this.probeIntervalMs,
        probeFastIntervalMs: this.probeFastIntervalMs,
        probeTimeoutMs: this.probeTimeoutMs,
        waiting: () => (this.opts.waiting?.(state.key) ?? 0) > 0,
        startupTimeoutMs: revision.local!.startupTimeoutSeconds * 1000,
        clock: this.clock,
        logger: this.logger,
      },
      {
        onReady: () => this.onReplicaReady(state, replica),
        onStartupTimeout: () => {
          replica.failure = `not ready within ${revision.local!.startupTimeoutSeconds}s`;
          this.logger.warn({ replica: replica.id }, `replica ${replica.failure}; killing it`);
          void proc.kill();
        },
        onExit: (exit) => this.onReplicaExit(state, replica, exit),
      },
    );
    replica.proc = proc;
    replica.phase = 'starting';
    proc.start();
    // Logged first: its time is the moment of the spawn (the cold-start measurement reads it).
    this.logger.info({ replica: replica.id, pid: proc.pid, url: proc.url }, 'replica starting');
    if (proc.pid !== undefined) {
      this.pidfiles.write({
        pid: proc.pid,
        ownerPid: process.pid,
        replica: replica.id,
        argv: proc.argv,
        startedAt: new Date(this.clock.now()).toISOString(),
      });
    }
  }

  private onReplicaReady(state: RevisionState, replica: Replica): void {
    if (replica.phase !== 'starting') return;
    replica.phase = 'ready';
    replica.readyAt = this.clock.now();
    state.portRaces = 0;
    replica.endpoint = {
      id: replica.id,
      revisionKey: state.key,
      url: replica.proc!.url,
      ...(replica.grpcUrl ? { grpcUrl: replica.grpcUrl } : {}),
      capacity: state.revision.containerConcurrency,
      readinessPath: replica.proc!.readinessPath,
    };
    this.logger.info({ replica: replica.id, url: replica.endpoint.url }, 'replica ready');
    this.emit({ type: 'ready', endpoint: replica.endpoint });
  }

  private onReplicaExit(state: RevisionState, replica: Replica, exit: ReplicaExit): void {
    if (this.gpuAllocator) {
      this.gpuAllocator.release(replica.id);
      // Devices came free: revisions waiting for one may start now.
      for (const key of [...this.gpuWaiting]) {
        this.gpuWaiting.delete(key);
        const waiting = this.revisions.get(key);
        if (waiting && waiting !== state) this.reconcile(waiting);
      }
    }
    const pid = replica.proc?.pid;
    if (pid !== undefined) this.pidfiles.remove(pid);
    // The share comes back now; reconcile() below (this revision's replacement, queued like any other) admits.
    this.forget(state, replica, false);
    const requested = replica.phase === 'stopping';
    const how = describeExit(exit);
    if (requested) {
      this.logger.info({ replica: replica.id, exit: how }, 'replica stopped');
      if (replica.endpoint) this.emit({ type: 'removed', endpoint: replica.endpoint, reason: `${replica.stopReason ?? 'stopped'} (${how})` });
    } else {
      const reason = replica.failure ? `${replica.failure}; ${how}` : `crashed: ${how}`;
      if (replica.endpoint) this.emit({ type: 'removed', endpoint: replica.endpoint, reason });
      else if (!exit.portInUse && replica.proc) {
        const said = replica.proc.lastErrorLine;
        const endpoint: Endpoint = { id: replica.id, revisionKey: state.key, url: replica.proc.url, capacity: state.revision.containerConcurrency };
        this.emit({ type: 'start-failed', endpoint, reason: `${replica.failure ? `${replica.failure}; ` : ''}${how}${said ? `: ${said}` : ''}` });
      }
      if (exit.portInUse && replica.endpoint === null && state.portRaces < MAX_PORT_RACES) {
        state.portRaces++;
        this.logger.warn({ replica: replica.id }, 'port taken before the replica could bind it; retrying on another port');
      } else {
        const now = this.clock.now();
        const delay = state.backoff.failed(now, replica.readyAt === null ? 0 : now - replica.readyAt);
        this.logger.warn(
          { replica: replica.id, reason, failures: state.backoff.failures, restartInMs: delay },
          'replica failed',
        );
      }
    }
    replica.phase = 'stopping';
    replica.resolveDone();
    this.reconcile(state);
    this.admitPending();
  }

  private async stopReplica(state: RevisionState, replica: Replica, reason: string): Promise<void> {
    if (replica.phase === 'stopping') return replica.done;
    const wasReady = replica.phase === 'ready';
    replica.phase = 'stopping';
    replica.stopReason = reason;
    const proc = replica.proc;
    if (!proc) return replica.done; // still finding a port: launch() sees 'stopping' and gives up
    if (wasReady && replica.endpoint) {
      this.emit({ type: 'draining', endpoint: replica.endpoint });
      if (this.drainDelayMs > 0) await new Promise<void>((r) => this.clock.setTimeout(r, this.drainDelayMs));
    }
    await proc.stop(this.graceMs(state.revision));
    return replica.done;
  }

  /** process 'exit' hook: nothing async can run any more, so SIGKILL every child synchronously. */
  private killAllNow(): void {
    for (const state of this.revisions.values()) {
      for (const r of state.replicas.values()) {
        r.proc?.killNow();
        const pid = r.proc?.pid;
        if (pid !== undefined) this.pidfiles.remove(pid);
      }
    }
  }
}

/**
 * Memory one replica claims against the budget: the runtime's `resources.requests.memory`, else its limit (as
 * Kubernetes defaults a missing request to the limit), else `fallback`. Unparseable quantities count `fallback`.
 */
export function replicaMemoryRequest(revision: Revision, fallback: number): number {
  const q = revision.container.resources.requests['memory'] ?? revision.container.resources.limits['memory'];
  if (q === undefined) return fallback;
  try {
    const bytes = parseQuantity(q);
    return bytes > 0 ? bytes : fallback;
  } catch {
    return fallback;
  }
}

const UNITS: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** The revision's memory limit in bytes (Kubernetes quantity), or null. */
function memoryLimit(revision: Revision): number | null {
  const q = revision.container.resources.limits['memory'];
  if (!q) return null;
  const m = /^(\d+(?:\.\d+)?)([KMGT]i?)?$/.exec(q);
  if (!m) return null;
  return Number(m[1]) * (m[2] ? (UNITS[m[2]] ?? 1) : 1);
}
