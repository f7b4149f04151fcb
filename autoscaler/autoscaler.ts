import type { Revision } from '../api/revision.js';
import { revisionKey } from '../api/revision.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { Store } from '../core/store.js';
import type { Backend, EndpointEvent } from '../deploy/backends/backend.js';
import { initialDeciderState, type Decision, type DeciderState } from './decider.js';
import { decideWithPolicies } from './pipeline.js';
import { gpuCapacityCap, replicasThatFit, type ArrivalView, type GpuCapacityCondition, type GpuInventory } from './policies/gpu.js';
import { IdleGapHistogram } from './policies/keep-warm.js';
import {
  initialResourceState,
  resourceDecide,
  resourcePolicySettings,
  type ResourcePolicySettings,
  type ResourceState,
  type ResourceUsageSource,
} from './policies/resource.js';
import { PendingStarts, ServiceTimeTracker, StartupTracker } from './policies/startup.js';
import { AUTOSCALING_DEFAULTS, deciderSettings, type DeciderSettings, type DeciderSettingsOptions } from './settings.js';
import { completionRate, windowAverages } from './windows.js';

export interface AutoscalerOptions {
  clock: Clock;
  store: Store;
  backend: Backend;
  metrics: SluiceMetrics;
  logger: Logger;
  tickMs?: number;
  /** Requests held now for a revision (embedded mode reads the activator directly). */
  waiting?: (revisionKey: string) => number;
  /** Requests in flight now, for "last active" (embedded mode reads the collector directly). */
  inflightNow?: (revisionKey: string) => number;
  /** Cluster-wide scale-to-zero grace period (Knative's config-autoscaler `scale-to-zero-grace-period`). */
  scaleToZeroGraceMs?: number;
  /** GPU inventory for the capacity cap of GPU revisions (local: the backend's GpuAllocator). */
  gpuInventory?: GpuInventory;
  /** CPU/memory usage of replicas, for revisions with `metric: cpu|memory`. Without it they keep their scale. */
  usage?: ResourceUsageSource;
  /** Scale events remembered per revision for status() (default 20). */
  eventLogSize?: number;
}

/** One applied scale change, as shown in status(). */
export interface ScaleEvent {
  at: string;
  from: number;
  to: number;
  reason: string;
  panic: boolean;
}

interface Scaled {
  key: string;
  labels: { namespace: string; service: string; revision: string };
  settings: DeciderSettings;
  /** Set for `metric: cpu|memory`. */
  resource: ResourcePolicySettings | null;
  resourceState: ResourceState;
  gpus: Record<string, number>;
  state: DeciderState;
  desired: number;
  registeredAt: number;
  lastActiveAt: number | null;
  lastDecision: (Decision & { at: number }) | null;
  condition: GpuCapacityCondition | null;
  events: ScaleEvent[];
  startup: StartupTracker;
  serviceTime: ServiceTimeTracker;
  pending: PendingStarts;
  idleGaps: IdleGapHistogram | null;
  deciding: boolean;
}

export interface RevisionScaleStatus {
  desiredReplicas: number;
  readyReplicas: number;
  startingReplicas: number;
  lastDecision: { reason: string; desired: number; panic: boolean; at: string } | null;
  /** The last scale changes, oldest first (bounded). */
  events: ScaleEvent[];
  /** Status conditions from the policies (GpuCapacity for GPU revisions). */
  conditions: GpuCapacityCondition[];
  /** Learned time-to-ready, seconds. */
  startupSeconds: number;
  /** Adaptive keep-warm window in seconds, when learned. */
  keepWarm: { prewarmSeconds: number; keepAliveSeconds: number } | null;
}

/** The scaling loop: every tick (and at once on a poke) decide each revision's replicas and apply them. */
export class Autoscaler {
  private readonly opts: AutoscalerOptions;
  private readonly revisions = new Map<string, Scaled>();
  private readonly eventLogSize: number;
  private timer: TimerHandle | null = null;
  private unsubscribePoke: (() => void) | null = null;
  private unsubscribeEndpoints: (() => void) | null = null;

  constructor(opts: AutoscalerOptions) {
    this.opts = opts;
    this.eventLogSize = Math.max(1, opts.eventLogSize ?? 20);
  }

  start(): void {
    const tickMs = this.opts.tickMs ?? AUTOSCALING_DEFAULTS.tickSeconds * 1000;
    this.timer = this.opts.clock.setInterval(() => void this.tick(), tickMs);
    this.unsubscribePoke = this.opts.store.onPoke((key) => void this.poke(key));
    this.unsubscribeEndpoints = this.opts.backend.subscribe((e) => this.onEndpoint(e));
  }

  stop(): void {
    if (this.timer) this.opts.clock.clearInterval(this.timer);
    this.timer = null;
    this.unsubscribePoke?.();
    this.unsubscribePoke = null;
    this.unsubscribeEndpoints?.();
    this.unsubscribeEndpoints = null;
  }

  /**
   * Starts managing a revision and applies its initial scale. `opts` carries what has no InferenceService
   * field (window algorithm, keep-warm mode: the `autoscaling.sluice.dev/*` annotations) and, in cluster mode,
   * `existingReplicas`: the workload already exists with that many replicas, which are adopted as they are.
   */
  async register(rev: Revision, opts: DeciderSettingsOptions & { existingReplicas?: number } = {}): Promise<void> {
    const key = revisionKey(rev);
    const { existingReplicas: adopted, ...settingsOptions } = opts;
    const settings = deciderSettings(rev.autoscaling, rev.containerConcurrency, { gpus: rev.gpus, ...rev.autoscaling.sluice, ...settingsOptions });
    if (this.opts.scaleToZeroGraceMs !== undefined) settings.scaleToZeroGraceMs = this.opts.scaleToZeroGraceMs;
    const resource = rev.autoscaling.metric === 'cpu' || rev.autoscaling.metric === 'memory' ? resourcePolicySettings(rev.autoscaling) : null;
    const existing = this.revisions.get(key);
    if (existing) {
      existing.settings = settings;
      existing.resource = resource;
      existing.gpus = { ...rev.gpus };
      if (settings.keepWarm === 'adaptive' && !existing.idleGaps) existing.idleGaps = this.idleHistogram(settings);
      return;
    }
    const now = this.opts.clock.now();
    const counts = this.opts.backend.counts(key);
    const minScale = resource ? resource.minScale : settings.minScale;
    const current = adopted ?? counts.desired;
    let initial =
      adopted !== undefined
        ? Math.min(settings.maxScale, Math.max(minScale, adopted))
        : Math.min(settings.maxScale, Math.max(minScale, settings.initialScale, counts.desired));
    const gpuFit = this.gpuFit(key, rev.gpus);
    if (initial > gpuFit) initial = gpuFit;
    const scaled: Scaled = {
      key,
      labels: { namespace: rev.namespace, service: rev.service, revision: rev.name },
      settings,
      resource,
      resourceState: initialResourceState(),
      gpus: { ...rev.gpus },
      state: initialDeciderState(),
      desired: current,
      registeredAt: now,
      lastActiveAt: initial > 0 ? now : null,
      lastDecision: null,
      condition: null,
      events: [],
      startup: new StartupTracker(),
      serviceTime: new ServiceTimeTracker(),
      pending: new PendingStarts(),
      idleGaps: settings.keepWarm === 'adaptive' ? this.idleHistogram(settings) : null,
      deciding: false,
    };
    this.revisions.set(key, scaled);
    this.opts.metrics.autoscalerTarget.set(scaled.labels, resource ? resource.targetPercent : settings.target);
    this.opts.metrics.startupSeconds.set(scaled.labels, scaled.startup.estimateMs() / 1000);
    this.opts.metrics.desiredReplicas.set(scaled.labels, initial);
    if (initial !== current) await this.apply(scaled, initial, adopted !== undefined ? 'adopt' : 'initial-scale', false);
    else if (adopted === undefined) await this.opts.backend.scale(key, initial);
  }

  unregister(key: string): void {
    const s = this.revisions.get(key);
    if (!s) return;
    this.revisions.delete(key);
    this.opts.metrics.forgetRevision(s.labels);
  }

  /** Called when a request waits for a revision with no ready replica: decide now, not on the next tick. */
  async poke(key: string): Promise<void> {
    const s = this.revisions.get(key);
    if (!s) return;
    const now = this.opts.clock.now();
    this.noteActivity(s, now);
    if (s.desired === 0) {
      // Fast path: no window math needed to wake a revision at zero.
      const want = Math.min(s.settings.maxScale, Math.max(1, s.settings.activationScale, s.settings.minScale));
      let decision: Decision = { desired: want, panic: false, excessBurstCapacity: -1, reason: 'poke' };
      if (this.opts.gpuInventory && Object.values(s.gpus).some((n) => n > 0)) {
        const capped = gpuCapacityCap(decision, { revisionKey: s.key, gpus: s.gpus, inventory: this.opts.gpuInventory, startupMs: s.startup.estimateMs() });
        decision = capped.decision;
        this.setCondition(s, capped.condition);
        this.opts.metrics.gpuCapacityLimited.set(s.labels, capped.limited ? 1 : 0);
      }
      this.record(s, decision);
      if (decision.desired > 0) await this.apply(s, decision.desired, decision.reason, false);
      return;
    }
    await this.decideOne(s);
  }

  async tick(): Promise<void> {
    await Promise.all([...this.revisions.values()].map((s) => this.decideOne(s)));
  }

  status(key: string): RevisionScaleStatus | null {
    const s = this.revisions.get(key);
    const counts = this.opts.backend.counts(key);
    if (!s) return null;
    const w = s.idleGaps?.window() ?? null;
    return {
      desiredReplicas: s.desired,
      readyReplicas: counts.ready,
      startingReplicas: counts.starting,
      lastDecision: s.lastDecision
        ? {
            reason: s.lastDecision.reason,
            desired: s.lastDecision.desired,
            panic: s.lastDecision.panic,
            at: new Date(s.lastDecision.at).toISOString(),
          }
        : null,
      events: s.events.map((e) => ({ ...e })),
      conditions: s.condition ? [{ ...s.condition }] : [],
      startupSeconds: s.startup.estimateMs() / 1000,
      keepWarm: w ? { prewarmSeconds: w.prewarmMs / 1000, keepAliveSeconds: w.keepAliveMs / 1000 } : null,
    };
  }

  excessBurstCapacity(key: string): number {
    return this.revisions.get(key)?.lastDecision?.excessBurstCapacity ?? -1;
  }

  private async decideOne(s: Scaled): Promise<void> {
    if (s.deciding) return;
    s.deciding = true;
    try {
      const now = this.opts.clock.now();
      const nowSecond = Math.floor(now / 1000);
      const stableSeconds = Math.round(s.settings.stableWindowMs / 1000);
      const panicSeconds = Math.max(1, Math.round(s.settings.panicWindowMs / 1000));
      const buckets = await this.opts.store.readBuckets(s.key, nowSecond - stableSeconds, nowSecond);
      const firstSecond = Math.floor(s.registeredAt / 1000);
      const avg = windowAverages(buckets, s.settings.metric, nowSecond, stableSeconds, panicSeconds, firstSecond, s.settings.windowAlgorithm);
      const inflightNow = this.opts.inflightNow?.(s.key) ?? 0;
      const waiting = this.opts.waiting?.(s.key) ?? 0;
      if (inflightNow > 0 || waiting > 0) this.noteActivity(s, now);
      else if (avg.lastActiveSecond !== null) this.noteActivity(s, (avg.lastActiveSecond + 1) * 1000);
      if (!this.revisions.has(s.key)) return;
      const counts = this.opts.backend.counts(s.key);
      this.opts.metrics.stableConcurrency.set(s.labels, avg.stable);
      this.opts.metrics.panicConcurrency.set(s.labels, avg.panic);
      this.opts.metrics.readyReplicas.set(s.labels, counts.ready);

      if (s.resource) {
        const usage = this.opts.usage?.usage(s.key) ?? [];
        const r = resourceDecide({ now, currentReplicas: Math.max(counts.ready, s.desired), usage }, s.resource, s.resourceState);
        s.resourceState = r.state;
        const decision: Decision = { desired: r.desired, panic: false, excessBurstCapacity: -1, reason: r.reason };
        this.record(s, decision);
        if (decision.desired !== s.desired) await this.apply(s, decision.desired, decision.reason, false);
        return;
      }

      let arrivals: ArrivalView | null = null;
      if (s.settings.startupAware) {
        const rps = windowAverages(buckets, 'rps', nowSecond, stableSeconds, panicSeconds, firstSecond, s.settings.windowAlgorithm);
        const conc = s.settings.metric === 'concurrency' ? avg : windowAverages(buckets, 'concurrency', nowSecond, stableSeconds, panicSeconds, firstSecond);
        const done = completionRate(buckets, nowSecond, panicSeconds);
        if (counts.ready > 0 && done !== null)
          s.serviceTime.observe(Math.min(conc.panic - waiting, counts.ready * s.settings.totalTarget), done);
        arrivals = { stableRps: rps.stable, panicRps: rps.panic, serviceMs: s.serviceTime.estimateMs() };
      }
      const result = decideWithPolicies(
        {
          now,
          readyReplicas: counts.ready,
          startingReplicas: counts.starting,
          currentDesired: s.desired,
          stable: avg.stable,
          panic: avg.panic,
          observedMs: now - s.registeredAt,
          lastActiveAt: s.lastActiveAt,
          waiting,
        },
        s.settings,
        s.state,
        {
          revisionKey: s.key,
          gpus: s.gpus,
          inventory: this.opts.gpuInventory ?? null,
          startupMs: s.startup.estimateMs(),
          keepWarm: s.idleGaps?.window() ?? null,
          arrivals,
        },
      );
      s.state = result.state;
      if (result.condition) this.setCondition(s, result.condition);
      this.opts.metrics.gpuCapacityLimited.set(s.labels, result.capacityLimited ? 1 : 0);
      this.record(s, result.decision);
      if (result.decision.desired !== s.desired) await this.apply(s, result.decision.desired, result.decision.reason, result.decision.panic);
    } catch (err) {
      this.opts.logger.error({ err, revision: s.key }, 'autoscaler decision failed');
    } finally {
      s.deciding = false;
    }
  }

  private noteActivity(s: Scaled, at: number): void {
    if (s.lastActiveAt !== null && at <= s.lastActiveAt) return;
    s.idleGaps?.activity(at);
    s.lastActiveAt = at;
  }

  private onEndpoint(e: EndpointEvent): void {
    const s = this.revisions.get(e.endpoint.revisionKey);
    if (!s) return;
    // The gauge follows replicas as they come and go, not only on the next tick.
    this.opts.metrics.readyReplicas.set(s.labels, this.opts.backend.counts(s.key).ready);
    if (e.type !== 'ready') return;
    const took = s.pending.ready(this.opts.clock.now());
    if (took === null) return;
    s.startup.observe(took);
    this.opts.metrics.startupSeconds.set(s.labels, s.startup.estimateMs() / 1000);
  }

  private setCondition(s: Scaled, c: GpuCapacityCondition): void {
    const prev = s.condition;
    s.condition = c;
    if (c.status === 'False' && (!prev || prev.status !== 'False')) this.opts.logger.warn({ revision: s.key, message: c.message }, 'GPU capacity');
  }

  private gpuFit(key: string, gpus: Record<string, number>): number {
    if (!this.opts.gpuInventory || !Object.values(gpus).some((n) => n > 0)) return Infinity;
    return replicasThatFit(this.opts.gpuInventory, key, gpus);
  }

  private idleHistogram(s: DeciderSettings): IdleGapHistogram {
    return new IdleGapHistogram({ minGapMs: s.stableWindowMs });
  }

  private record(s: Scaled, d: Decision): void {
    s.lastDecision = { ...d, at: this.opts.clock.now() };
    this.opts.metrics.autoscalerPanic.set(s.labels, d.panic ? 1 : 0);
    this.opts.metrics.excessBurstCapacity.set(s.labels, d.excessBurstCapacity);
  }

  private async apply(s: Scaled, desired: number, reason: string, panic: boolean): Promise<void> {
    const from = s.desired;
    if (desired === from) return;
    const now = this.opts.clock.now();
    s.desired = desired;
    const direction = desired > from ? 'up' : 'down';
    if (desired > from) s.pending.asked(now, desired - from);
    else s.pending.trim(desired - this.opts.backend.counts(s.key).ready);
    s.events.push({ at: new Date(now).toISOString(), from, to: desired, reason, panic });
    if (s.events.length > this.eventLogSize) s.events.splice(0, s.events.length - this.eventLogSize);
    this.opts.metrics.desiredReplicas.set(s.labels, desired);
    this.opts.metrics.scaleEventsTotal.inc({ direction, reason });
    this.opts.logger.info({ revision: s.key, from, to: desired, reason }, 'scale');
    await this.opts.backend.scale(s.key, desired);
  }
}
