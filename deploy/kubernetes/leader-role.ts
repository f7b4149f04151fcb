import type { KubeConfig } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import { LeaderElector } from './leader-election.js';
import { kubeLeaseClient } from './lease-client.js';

export interface LeaderRoleOptions {
  kc: KubeConfig;
  clock: Clock;
  logger: Logger;
  /** Name of the Lease (one per role). */
  leaseName: string;
  identity: string;
  leaseNamespace?: string;
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** Runs when this instance becomes the leader. */
  lead: () => Promise<void>;
  /** Runs when it stops leading (and on stop). */
  follow: () => Promise<void>;
}

/**
 * A role that acts only while it holds its Lease. Leading, following and the role's own jobs run one at a
 * time, in order, on one queue, so a job never runs half under an old leadership.
 */
export class LeaderRole {
  private readonly elector: LeaderElector;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: LeaderRoleOptions) {
    const lease = o.leaseDurationMs ?? 15_000;
    this.elector = new LeaderElector({
      client: kubeLeaseClient(o.kc, o.leaseNamespace ?? 'default', o.leaseName),
      identity: o.identity,
      clock: o.clock,
      leaseDurationMs: lease,
      renewDeadlineMs: Math.round(lease * 0.66),
      retryPeriodMs: o.retryPeriodMs ?? 2_000,
      onStartedLeading: () => this.enqueue(() => o.lead()),
      onStoppedLeading: () => this.enqueue(() => o.follow()),
      onError: (err) => o.logger.warn({ err: errorMessage(err), lease: o.leaseName }, 'leader election'),
    });
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  start(): void {
    this.elector.start();
  }

  /** Gives the Lease up, waits for queued jobs, then runs `follow`. */
  async stop(): Promise<void> {
    await this.elector.stop();
    await this.queue;
    await this.o.follow();
  }

  /** Resolves when every queued job has run. */
  idle(): Promise<void> {
    return this.queue;
  }

  enqueue(job: () => Promise<void>): void {
    this.queue = this.queue.then(job).catch((err: unknown) => this.o.logger.error({ err: errorMessage(err), lease: this.o.leaseName }, 'job failed'));
  }
}
