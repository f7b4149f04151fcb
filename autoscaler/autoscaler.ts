import type { Revision } from '../api/revision.js';
import { revisionKey } from '../api/revision.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { GaugeChild } from '../core/metric-families.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { Store } from '../core/store.js';
import type { Backend, EndpointEvent, RevisionCondition } from '../api/backend.js';
import type { Decision } from './decider.js';
import { observe, observedSeconds } from './observe.js';
import { initialScaleState, scaleStep, type ScalePolicy, type ScaleState, type ScaleStepInput } from './pipeline.js';
import { replicasThatFit, type GpuCapacityCondition, type GpuInventory } from './policies/gpu.js';
import { IdleGapHistogram } from './policies/keep-warm.js';
import { resourcePolicySettings, type ResourceUsageSource } from './policies/resource.js';
import { PendingStarts, ServiceTimeTracker, StartupTracker } from './policies/startup.js';
import { AUTOSCALING_DEFAULTS, deciderSettings, type ClusterAutoscalingDefaults, type DeciderSettings, type DeciderSettingsOptions } from './settings.js';

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
  /** The process's cluster-wide autoscaling settings (configuration table); default: the table's defaults. */
  defaults?: ClusterAutoscalingDefaults;
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
  /** The decider's settings, and the resource policy for `metric: cpu|memory`. */
  policy: ScalePolicy;
  /** What the scaling step remembers between decisions. */
  scale: ScaleState;
  gpus: Record<string, number>;
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
  /** This revision's gauge series, looked up once (a tick over 10,000 revisions sets 60,000 values). */
  gauges: RevisionGauges;
}

type RevisionGauges = Record<
  'target' | 'startup' | 'desired' | 'ready' | 'stable' | 'panic' | 'panicMode' | 'excess' | 'gpuLimited',
  GaugeChild
>;

function revisionGauges(m: SluiceMetrics, labels: Scaled['labels']): RevisionGauges {
  return {
    target: m.autoscalerTarget.labels(labels),
    startup: m.startupSeconds.labels(labels),
    desired: m.desiredReplicas.labels(labels),
    ready: m.readyReplicas.labels(labels),
    stable: m.stableConcurrency.labels(labels),
    panic: m.panicConcurrency.labels(labels),
    panicMode: m.autoscalerPanic.labels(labels),
    excess: m.excessBurstCapacity.labels(labels),
    gpuLimited: m.gpuCapacityLimited.labels(labels),
  };
}

export interface RevisionScaleStatus {
  desiredReplicas: number;
  readyReplicas: number;
  startingReplicas: number;
  /** Replicas the backend accepted but has not started for want of budget (local mode); 0 elsewhere. */
  pendingReplicas: number;
  lastDecision: { reason: string; desired: number; panic: boolean; at: string } | null;
  /** The last scale changes, oldest first (bounded). */
  events: ScaleEvent[];
  /** Status conditions: the GPU cap's (GpuCapacity) and the backend's admission (ResourcesAvailable). */
  conditions: RevisionCondition[];
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
    const tickMs = this.opts.tickMs ?? (this.opts.defaults ?? AUTOSCALING_DEFAULTS).tickSeconds * 1000;
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
    const settings = deciderSettings(rev.autoscaling, rev.containerConcurrency, {
      gpus: rev.gpus,
      ...(this.opts.defaults ? { defaults: this.opts.defaults } : {}),
      ...rev.autoscaling.sluice,
      ...settingsOptions,
    });
    if (this.opts.scaleToZeroGraceMs !== undefined) settings.scaleToZeroGraceMs = this.opts.scaleToZeroGraceMs;
    const resource = rev.autoscaling.metric === 'cpu' || rev.autoscaling.metric === 'memory' ? resourcePolicySettings(rev.autoscaling, this.opts.defaults?.maxReplicasCap) : null;
    const existing = this.revisions.get(key);
    if (existing) {
      existing.policy = { settings, resource };
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
    const labels = { namespace: rev.namespace, service: rev.service, revision: rev.name };
    const scaled: Scaled = {
      key,
      labels,
      policy: { settings, resource },
      scale: initialScaleState(),
      gpus: { ...rev.gpus },
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
      gauges: revisionGauges(this.opts.metrics, labels),
    };
    this.revisions.set(key, scaled);
    scaled.gauges.target.set(resource ? resource.targetPercent : settings.target);
    scaled.gauges.startup.set(scaled.startup.estimateMs() / 1000);
    scaled.gauges.desired.set(initial);
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
    // At zero no window holds the waiting request's demand yet: wake at once, without reading the buckets.
    if (s.desired === 0) await this.step(s, { kind: 'wake', now });
    else await this.decideOne(s);
  }

  async tick(): Promise<void> {
    await Promise.all([...this.revisions.values()].map((s) => this.decideOne(s)));
  }

  status(key: string): RevisionScaleStatus | null {
    const s = this.revisions.get(key);
    const counts = this.opts.backend.counts(key);
    if (!s) return null;
    const w = s.idleGaps?.window() ?? null;
    const admission = this.opts.backend.admission?.(key) ?? null;
    const conditions: RevisionCondition[] = s.condition ? [{ ...s.condition }] : [];
    if (admission?.condition) conditions.push(admission.condition);
    return {
      desiredReplicas: s.desired,
      readyReplicas: counts.ready,
      startingReplicas: counts.starting,
      pendingReplicas: admission?.pending ?? 0,
      lastDecision: s.lastDecision
        ? {
            reason: s.lastDecision.reason,
            desired: s.lastDecision.desired,
            panic: s.lastDecision.panic,
            at: new Date(s.lastDecision.at).toISOString(),
          }
        : null,
      events: s.events.map((e) => ({ ...e })),
      conditions,
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
      const settings = s.policy.settings;
      const { fromSecond, toSecond } = observedSeconds(settings, now);
      const buckets = await this.opts.store.readBuckets(s.key, fromSecond, toSecond);
      if (!this.revisions.has(s.key)) return;
      const inflightNow = this.opts.inflightNow?.(s.key) ?? 0;
      const waiting = this.opts.waiting?.(s.key) ?? 0;
      const counts = this.opts.backend.counts(s.key);
      // Replicas pending for the backend's budget have not started: their wait is not start-up time.
      const pending = this.opts.backend.admission?.(s.key)?.pending ?? 0;
      if (pending > 0) s.pending.notStartedBy(pending, now);
      const firstSecond = Math.floor(s.registeredAt / 1000);
      const observation = observe(buckets, settings, { now, firstSecond, readyReplicas: counts.ready, waiting }, s.serviceTime);
      if (inflightNow > 0 || waiting > 0) this.noteActivity(s, now);
      else if (observation.lastActiveSecond !== null) this.noteActivity(s, (observation.lastActiveSecond + 1) * 1000);
      s.gauges.stable.set(observation.stable);
      s.gauges.panic.set(observation.panic);
      s.gauges.ready.set(counts.ready);
      const revision = {
        now,
        readyReplicas: counts.ready,
        startingReplicas: counts.starting,
        currentDesired: s.desired,
        observedMs: now - s.registeredAt,
        lastActiveAt: s.lastActiveAt,
        waiting,
      };
      await this.step(s, { kind: 'observed', revision, observation, usage: () => this.opts.usage?.usage(s.key) ?? [] });
    } catch (err) {
      this.opts.logger.error({ err, revision: s.key }, 'autoscaler decision failed');
    } finally {
      s.deciding = false;
    }
  }

  /** Runs the scaling step for the revision, records its decision and applies it. */
  private async step(s: Scaled, input: ScaleStepInput): Promise<void> {
    const result = scaleStep(input, s.policy, s.scale, {
      revisionKey: s.key,
      gpus: s.gpus,
      inventory: this.opts.gpuInventory ?? null,
      startupMs: s.startup.estimateMs(),
      keepWarm: s.idleGaps?.window() ?? null,
    });
    s.scale = result.state;
    if (result.condition) this.setCondition(s, result.condition);
    s.gauges.gpuLimited.set(result.capacityLimited ? 1 : 0);
    this.record(s, result.decision);
    if (result.decision.desired !== s.desired) await this.apply(s, result.decision.desired, result.decision.reason, result.decision.panic);
  }

  private noteActivity(s: Scaled, at: number): void {
    if (s.lastActiveAt !== null && at <= s.lastActiveAt) return;
    s.idleGaps?.activity(at);
    s.lastActiveAt = at;
  }

  private onEndpoint(e: EndpointEvent): void {
    const s = this.revisions.get(e.endpoint.revisionKey);
    if (!s) return;
    // The ready gauge follows the replicas as they come and go, not only at the next decision.
    s.gauges.ready.set(this.opts.backend.counts(s.key).ready);
    if (e.type !== 'ready') return;
    const took = s.pending.ready(this.opts.clock.now());
    if (took === null) return;
    s.startup.observe(took);
    s.gauges.startup.set(s.startup.estimateMs() / 1000);
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
    s.gauges.panicMode.set(d.panic ? 1 : 0);
    s.gauges.excess.set(d.excessBurstCapacity);
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
    s.gauges.desired.set(desired);
    this.opts.metrics.scaleEventsTotal.inc({ direction, reason });
    this.opts.logger.info({ revision: s.key, from, to: desired, reason }, 'scale');
    await this.opts.backend.scale(s.key, desired);
  }
}
