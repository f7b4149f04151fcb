import type { Revision } from '../api/revision.js';
import { revisionKey } from '../api/revision.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { Store } from '../core/store.js';
import type { Backend } from '../deploy/backends/backend.js';
import { decide, initialDeciderState, type Decision, type DeciderState } from './decider.js';
import { AUTOSCALING_DEFAULTS, deciderSettings, type DeciderSettings } from './settings.js';
import { windowAverages } from './windows.js';

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
}

interface Scaled {
  key: string;
  labels: { namespace: string; service: string; revision: string };
  settings: DeciderSettings;
  state: DeciderState;
  desired: number;
  registeredAt: number;
  lastActiveAt: number | null;
  lastDecision: (Decision & { at: number }) | null;
  deciding: boolean;
}

export interface RevisionScaleStatus {
  desiredReplicas: number;
  readyReplicas: number;
  startingReplicas: number;
  lastDecision: { reason: string; desired: number; panic: boolean; at: string } | null;
}

/** The scaling loop: every tick (and at once on a poke) decide each revision's replicas and apply them. */
export class Autoscaler {
  private readonly opts: AutoscalerOptions;
  private readonly revisions = new Map<string, Scaled>();
  private timer: TimerHandle | null = null;
  private unsubscribePoke: (() => void) | null = null;

  constructor(opts: AutoscalerOptions) {
    this.opts = opts;
  }

  start(): void {
    const tickMs = this.opts.tickMs ?? AUTOSCALING_DEFAULTS.tickSeconds * 1000;
    this.timer = this.opts.clock.setInterval(() => void this.tick(), tickMs);
    this.unsubscribePoke = this.opts.store.onPoke((key) => void this.poke(key));
  }

  stop(): void {
    if (this.timer) this.opts.clock.clearInterval(this.timer);
    this.timer = null;
    this.unsubscribePoke?.();
    this.unsubscribePoke = null;
  }

  /**
   * Starts managing a revision and applies its initial scale. With `existingReplicas` (cluster mode: the
   * workload already exists with that many replicas) those are adopted as the starting point instead.
   */
  async register(rev: Revision, opts: { existingReplicas?: number } = {}): Promise<void> {
    const key = revisionKey(rev);
    const settings = deciderSettings(rev.autoscaling, rev.containerConcurrency);
    if (this.opts.scaleToZeroGraceMs !== undefined) settings.scaleToZeroGraceMs = this.opts.scaleToZeroGraceMs;
    const existing = this.revisions.get(key);
    if (existing) {
      existing.settings = settings;
      return;
    }
    const now = this.opts.clock.now();
    const counts = this.opts.backend.counts(key);
    const adopted = opts.existingReplicas;
    const initial =
      adopted !== undefined
        ? Math.min(settings.maxScale, Math.max(settings.minScale, adopted))
        : Math.min(settings.maxScale, Math.max(settings.minScale, settings.initialScale, counts.desired));
    const scaled: Scaled = {
      key,
      labels: { namespace: rev.namespace, service: rev.service, revision: rev.name },
      settings,
      state: initialDeciderState(),
      desired: initial,
      registeredAt: now,
      lastActiveAt: initial > 0 ? now : null,
      lastDecision: null,
      deciding: false,
    };
    this.revisions.set(key, scaled);
    this.opts.metrics.desiredReplicas.set(scaled.labels, initial);
    this.opts.metrics.autoscalerTarget.set(scaled.labels, settings.target);
    if (adopted === undefined || adopted !== initial) await this.opts.backend.scale(key, initial);
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
    s.lastActiveAt = this.opts.clock.now();
    if (s.desired === 0) {
      // Fast path: no window math needed to wake a revision at zero.
      const target = Math.min(s.settings.maxScale, Math.max(1, s.settings.activationScale, s.settings.minScale));
      this.record(s, { desired: target, panic: false, excessBurstCapacity: -1, reason: 'poke' });
      await this.apply(s, target, 'poke');
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
      const avg = windowAverages(buckets, s.settings.metric, nowSecond, stableSeconds, panicSeconds, firstSecond);
      const inflightNow = this.opts.inflightNow?.(s.key) ?? 0;
      const waiting = this.opts.waiting?.(s.key) ?? 0;
      if (inflightNow > 0 || waiting > 0) s.lastActiveAt = now;
      else if (avg.lastActiveSecond !== null)
        s.lastActiveAt = Math.max(s.lastActiveAt ?? 0, (avg.lastActiveSecond + 1) * 1000);
      if (!this.revisions.has(s.key)) return;
      const counts = this.opts.backend.counts(s.key);
      const { decision, state } = decide(
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
      );
      s.state = state;
      this.record(s, decision);
      this.opts.metrics.stableConcurrency.set(s.labels, avg.stable);
      this.opts.metrics.panicConcurrency.set(s.labels, avg.panic);
      this.opts.metrics.readyReplicas.set(s.labels, counts.ready);
      if (decision.desired !== s.desired) await this.apply(s, decision.desired, decision.reason);
    } catch (err) {
      this.opts.logger.error({ err, revision: s.key }, 'autoscaler decision failed');
    } finally {
      s.deciding = false;
    }
  }

  private record(s: Scaled, d: Decision): void {
    s.lastDecision = { ...d, at: this.opts.clock.now() };
    this.opts.metrics.autoscalerPanic.set(s.labels, d.panic ? 1 : 0);
    this.opts.metrics.excessBurstCapacity.set(s.labels, d.excessBurstCapacity);
  }

  private async apply(s: Scaled, desired: number, reason: string): Promise<void> {
    const from = s.desired;
    if (desired === from) return;
    s.desired = desired;
    const direction = desired > from ? 'up' : 'down';
    this.opts.metrics.desiredReplicas.set(s.labels, desired);
    this.opts.metrics.scaleEventsTotal.inc({ direction, reason });
    this.opts.logger.info({ revision: s.key, from, to: desired, reason }, 'scale');
    await this.opts.backend.scale(s.key, desired);
  }
}
