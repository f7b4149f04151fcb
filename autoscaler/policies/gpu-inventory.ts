/** How many GPUs of a kind exist and how many are taken. Local: a configured device list; Kubernetes: nodes. */
export interface GpuInventory {
  /** Devices of this resource name (`nvidia.com/gpu`, `amd.com/gpu`, …) that exist. */
  capacity(resourceName: string): number;
  /** Devices in use, by every revision, or only by `revisionKey` when given. */
  allocated(resourceName: string, revisionKey?: string): number;
}

export interface GpuDevice {
  /** Resource name, e.g. `nvidia.com/gpu`. */
  resourceName: string;
  /** Device id as the runtime sees it (the index for CUDA_VISIBLE_DEVICES). */
  id: string;
}

export interface GpuAllocation {
  /** Device ids by resource name. */
  devices: Record<string, string[]>;
  /** Environment for the replica: CUDA_VISIBLE_DEVICES / ROCR_VISIBLE_DEVICES / … */
  env: Record<string, string>;
}

/** Environment variable that pins a replica to its devices, per vendor resource name. */
const VISIBLE_DEVICES_ENV: Record<string, string[]> = {
  'nvidia.com/gpu': ['CUDA_VISIBLE_DEVICES'],
  'amd.com/gpu': ['ROCR_VISIBLE_DEVICES', 'HIP_VISIBLE_DEVICES'],
  'intel.com/gpu': ['ZE_AFFINITY_MASK'],
};

/**
 * The local backend's GPU inventory: a fixed list of devices, handed to replicas all-or-nothing on start
 * and returned on stop. Bounded by the device list; one owner per device.
 */
export class GpuAllocator implements GpuInventory {
  private readonly devices: GpuDevice[];
  /** device index in `devices` → owner. */
  private readonly owner = new Map<number, { revisionKey: string; replicaId: string }>();

  constructor(devices: readonly GpuDevice[]) {
    this.devices = devices.map((d) => ({ ...d }));
  }

  /** `count` devices of one kind with ids 0..count-1 (e.g. from `nvidia-smi -L` or configuration). */
  static uniform(resourceName: string, count: number): GpuAllocator {
    return new GpuAllocator(Array.from({ length: count }, (_, i) => ({ resourceName, id: String(i) })));
  }

  capacity(resourceName: string): number {
    return this.devices.filter((d) => d.resourceName === resourceName).length;
  }

  allocated(resourceName: string, revisionKey?: string): number {
    let n = 0;
    for (const [i, o] of this.owner) {
      if (this.devices[i]!.resourceName !== resourceName) continue;
      if (revisionKey === undefined || o.revisionKey === revisionKey) n++;
    }
    return n;
  }

  /** Reserves the devices a replica requests (all of them, or none: returns null when they do not fit). */
  allocate(revisionKey: string, replicaId: string, request: Record<string, number>): GpuAllocation | null {
    const picked: number[] = [];
    const devices: Record<string, string[]> = {};
    for (const [name, wanted] of Object.entries(request)) {
      if (!(wanted > 0)) continue;
      const free = this.devices.map((d, i) => ({ d, i })).filter(({ d, i }) => d.resourceName === name && !this.owner.has(i));
      if (free.length < wanted) return null;
      const take = free.slice(0, wanted);
      picked.push(...take.map((t) => t.i));
      devices[name] = take.map((t) => t.d.id);
    }
    for (const i of picked) this.owner.set(i, { revisionKey, replicaId });
    const env: Record<string, string> = {};
    for (const [name, ids] of Object.entries(devices)) for (const v of VISIBLE_DEVICES_ENV[name] ?? []) env[v] = ids.join(',');
    return { devices, env };
  }

  /** Returns a replica's devices. Idempotent. */
  release(replicaId: string): void {
    for (const [i, o] of [...this.owner]) if (o.replicaId === replicaId) this.owner.delete(i);
  }
}

/** Replicas of a revision that the GPUs can hold: its own devices plus the free ones, per resource name. */
export function replicasThatFit(inventory: GpuInventory, revisionKey: string, perReplica: Record<string, number>): number {
  let fit = Infinity;
  for (const [name, per] of Object.entries(perReplica)) {
    if (!(per > 0)) continue;
    const usable = inventory.capacity(name) - inventory.allocated(name) + inventory.allocated(name, revisionKey);
    fit = Math.min(fit, Math.floor(Math.max(0, usable) / per));
  }
  return fit;
}
