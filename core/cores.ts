import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

type Read = (path: string) => string;

const readText: Read = (path) => readFileSync(path, 'utf8');

/**
 * The CPU quota of this process's cgroup in cores (`cpu.max` of cgroup v2, `cpu.cfs_quota_us` /
 * `cpu.cfs_period_us` of v1), or null when there is none or it cannot be read. A container limited to 2 CPUs on
 * a 64-core node sees 64 in `os.availableParallelism()` (Node 20's libuv reads only the CPU affinity).
 */
export function cgroupCpuQuota(read: Read = readText): number | null {
  try {
    const [quota, period] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/);
    if (quota === 'max') return null;
    const cores = Number(quota) / Number(period);
    return Number.isFinite(cores) && cores > 0 ? cores : null;
  } catch {
    // not cgroup v2
  }
  try {
    const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').trim());
    const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us').trim());
    const cores = quota / period;
    return quota > 0 && Number.isFinite(cores) && cores > 0 ? cores : null;
  } catch {
    return null;
  }
}

/** The cores this process may use: `os.availableParallelism()`, lowered to the cgroup's CPU quota (rounded up). */
export function availableCores(o: { parallelism?: number; read?: Read } = {}): number {
  const n = o.parallelism ?? availableParallelism();
  const quota = cgroupCpuQuota(o.read);
  return quota === null ? n : Math.max(1, Math.min(n, Math.ceil(quota)));
}
