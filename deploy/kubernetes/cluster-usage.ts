import type { GpuInventory } from '../../autoscaler/policies/gpu-inventory.js';
import type { ReplicaUsage, ResourceUsageSource } from '../../autoscaler/policies/resource.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { ClusterResources, NodeCapacity } from '../backends/kubernetes/cluster-resources.js';

/**
 * The cluster autoscaler's view of capacity and usage, refreshed in the background so decisions stay
 * synchronous: GPU capacity from nodes' allocatable resources minus pods' requests, and each revision's
 * CPU/memory from metrics.k8s.io as a percent of its requests (HPA semantics). Bounded by the revisions
 * being tracked.
 */
export class ClusterUsage implements GpuInventory, ResourceUsageSource {
  private nodes: NodeCapacity[] = [];
  private readonly usageByRevision = new Map<string, ReplicaUsage[]>();
  /** Revisions to read usage for, and GPUs each replica of them requests. */
  private readonly tracked = new Map<string, { gpus: Record<string, number>; replicas: () => number; cpuMemory: boolean }>();
  private timer: TimerHandle | null = null;

  constructor(
    private readonly o: { resources: ClusterResources; clock: Clock; logger: Logger; refreshMs?: number },
  ) {}

  track(revisionKey: string, info: { gpus: Record<string, number>; replicas: () => number; cpuMemory: boolean }): void {
    this.tracked.set(revisionKey, info);
  }

  untrack(revisionKey: string): void {
    this.tracked.delete(revisionKey);
    this.usageByRevision.delete(revisionKey);
  }

  start(): void {
    void this.refresh();
    this.timer = this.o.clock.setInterval(() => void this.refresh(), this.o.refreshMs ?? 5_000);
  }

  stop(): void {
    if (this.timer) this.o.clock.clearInterval(this.timer);
    this.timer = null;
  }

  capacity(resourceName: string): number {
    return this.nodes.filter((n) => n.resource === resourceName).reduce((sum, n) => sum + n.allocatable, 0);
  }

  allocated(resourceName: string, revisionKey?: string): number {
    if (revisionKey !== undefined) {
      const t = this.tracked.get(revisionKey);
      return t ? (t.gpus[resourceName] ?? 0) * t.replicas() : 0;
    }
    return this.nodes.filter((n) => n.resource === resourceName).reduce((sum, n) => sum + n.requested, 0);
  }

  usage(revisionKey: string): ReplicaUsage[] {
    return this.usageByRevision.get(revisionKey) ?? [];
  }

  /** Reads nodes, pods and pod metrics once (exposed for tests). */
  async refresh(): Promise<void> {
    try {
      this.nodes = await this.o.resources.extendedCapacity();
      for (const [key, t] of this.tracked) {
        if (!t.cpuMemory) continue;
        const [namespace, revision] = key.split('/') as [string, string];
        const u = await this.o.resources.revisionUsage(namespace, revision);
        // Per-replica figures: the revision's average, once per pod that reported.
        const one: ReplicaUsage = { replicaId: '', cpuPercent: u.cpuPercent ?? 0, memoryPercent: u.memoryPercent ?? 0 };
        this.usageByRevision.set(
          key,
          u.cpuPercent === null && u.memoryPercent === null ? [] : Array.from({ length: u.pods }, (_, i) => ({ ...one, replicaId: `${revision}#${i}` })),
        );
      }
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err) }, 'reading cluster capacity and usage failed; keeping the last view');
    }
  }
}
