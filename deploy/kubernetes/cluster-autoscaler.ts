import type { KubeConfig } from '@kubernetes/client-node';
import type { Autoscaler } from '../../autoscaler/autoscaler.js';
import type { Clock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { LeaderElector } from './leader-election.js';
import { kubeLeaseClient } from './lease-client.js';
import { watchRevisions } from './revision-watch.js';
import type { ResilientInformer } from './watch.js';

/**
 * `sluice autoscaler`: the holder of the `sluice-autoscaler` Lease manages every revision it finds as a
 * Deployment, reading demand from the shared store and writing replicas through the scale subresource.
 * A newly elected (or restarted) autoscaler takes the replicas it finds as its starting point and does not
 * scale down before it has seen a full stable window.
 */
export class ClusterAutoscaler {
  private readonly elector: LeaderElector;
  private informer: ResilientInformer | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly o: {
      kc: KubeConfig;
      autoscaler: Autoscaler;
      clock: Clock;
      logger: Logger;
      identity: string;
      leaseNamespace?: string;
      leaseDurationMs?: number;
      retryPeriodMs?: number;
    },
  ) {
    this.elector = new LeaderElector({
      client: kubeLeaseClient(o.kc, o.leaseNamespace ?? 'default', 'sluice-autoscaler'),
      identity: o.identity,
      clock: o.clock,
      leaseDurationMs: o.leaseDurationMs ?? 15_000,
      renewDeadlineMs: Math.round((o.leaseDurationMs ?? 15_000) * 0.66),
      retryPeriodMs: o.retryPeriodMs ?? 2_000,
      onStartedLeading: () => this.enqueue(() => this.lead()),
      onStoppedLeading: () => this.enqueue(() => this.follow()),
      onError: (err) => o.logger.warn({ err: errorMessage(err) }, 'leader election'),
    });
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  start(): void {
    this.elector.start();
  }

  async stop(): Promise<void> {
    await this.elector.stop();
    await this.queue;
    await this.follow();
  }

  private enqueue(job: () => Promise<void>): void {
    this.queue = this.queue.then(job).catch((err: unknown) => this.o.logger.error({ err: errorMessage(err) }, 'autoscaler job failed'));
  }

  private async lead(): Promise<void> {
    const a = this.o.autoscaler;
    this.informer = watchRevisions(
      this.o.kc,
      {
        upsert: (rev, replicas) => this.enqueue(() => a.register(rev, { existingReplicas: replicas })),
        remove: (key) => a.unregister(key),
      },
      { clock: this.o.clock, logger: this.o.logger },
    );
    await this.informer.start();
    a.start();
  }

  private async follow(): Promise<void> {
    this.o.autoscaler.stop();
    await this.informer?.stop();
    this.informer = null;
  }
}
