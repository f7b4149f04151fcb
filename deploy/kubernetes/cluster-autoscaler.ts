import type { KubeConfig } from '@kubernetes/client-node';
import { revisionKey, type Revision } from '../../api/revision.js';
import type { Autoscaler } from '../../autoscaler/autoscaler.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import { LeaderRole } from './leader-role.js';
import { watchRevisions } from './revision-watch.js';
import type { ResilientInformer } from './watch.js';

/**
 * `sluice autoscaler`: the holder of the `sluice-autoscaler` Lease manages every revision it finds as a
 * Deployment, reading demand from the shared store and writing replicas through the scale subresource.
 * A newly elected (or restarted) autoscaler takes the replicas it finds as its starting point and does not
 * scale down before it has seen a full stable window.
 */
export class ClusterAutoscaler {
  private readonly role: LeaderRole;
  private informer: ResilientInformer | null = null;

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
      /** Told of every revision found, and of its removal (null), e.g. to track its capacity and usage. */
      onRevision?: (revisionKey: string, rev: Revision | null) => void;
    },
  ) {
    this.role = new LeaderRole({ ...o, leaseName: 'sluice-autoscaler', lead: () => this.lead(), follow: () => this.follow() });
  }

  get isLeader(): boolean {
    return this.role.isLeader;
  }

  start(): void {
    this.role.start();
  }

  stop(): Promise<void> {
    return this.role.stop();
  }

  private async lead(): Promise<void> {
    const a = this.o.autoscaler;
    this.informer = watchRevisions(
      this.o.kc,
      {
        upsert: (rev, replicas, failed) => {
          const key = revisionKey(rev);
          if (failed !== null) {
            // The controller failed it (it never became ready): never scaled again, whatever demand it had.
            this.o.onRevision?.(key, null);
            // Queued behind any registration still pending, so none re-registers it after this.
            this.role.enqueue(async () => a.unregister(key));
            return;
          }
          this.o.onRevision?.(key, rev);
          this.role.enqueue(() => a.register(rev, { existingReplicas: replicas }));
        },
        remove: (key) => {
          this.o.onRevision?.(key, null);
          a.unregister(key);
        },
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
