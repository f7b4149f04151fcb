import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The process and its descendants (nginx's worker sits under its master), from /proc. */
export function processTree(pid: number): number[] {
  const pids = [pid];
  for (let i = 0; i < pids.length && pids.length < 64; i++) {
    const current = pids[i] as number;
    try {
      const children = readFileSync(`/proc/${current}/task/${current}/children`, 'utf8').trim();
      if (children) pids.push(...children.split(/\s+/).map(Number));
    } catch {
      // gone, or the kernel does not list children
    }
  }
  return pids;
}

/** Open file descriptors of a process tree, and how many of them are sockets (Linux /proc). */
export function openDescriptors(pid: number): { fds: number; sockets: number } {
  let fds = 0;
  let sockets = 0;
  for (const p of processTree(pid)) {
    let entries: string[];
    try {
      entries = readdirSync(`/proc/${p}/fd`);
    } catch {
      continue;
    }
    fds += entries.length;
    for (const fd of entries) {
      try {
        if (readlinkSync(`/proc/${p}/fd/${fd}`).startsWith('socket:')) sockets += 1;
      } catch {
        // closed between listing and reading
      }
    }
  }
  return { fds, sockets };
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/**
 * CPU seconds (user + system) used so far by a process tree: the cost of the work a proxy did, which is far
 * less disturbed by a shared machine than its throughput.
 */
export function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      // fields after the parenthesised command name; utime and stime are fields 14 and 15
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone
    }
  }
  return ticks / USER_HZ;
}

/** The machine's CPU time so far, in clock ticks summed over its cores (/proc/stat's `cpu` line). */
export interface MachineTicks {
  /** Running anything: user, nice, system, irq and softirq time (the load generator, the upstreams, the proxy, the rest). */
  busy: number;
  /** Time the hypervisor gave a wanting core to someone else. */
  steal: number;
  /** All of it, idle and iowait included (guest time is inside user already). */
  total: number;
}

/** The `cpu` line of a /proc/stat text as MachineTicks, or null when it has none. */
export function parseMachineTicks(procStat: string): MachineTicks | null {
  const line = procStat.split('\n').find((l) => l.startsWith('cpu '));
  if (line === undefined) return null;
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy, steal, total: busy + idle + iowait + steal };
}

/** The machine's CPU ticks now, or null where /proc/stat cannot be read (then no share is reported). */
export function machineTicks(): MachineTicks | null {
  try {
    return parseMachineTicks(readFileSync('/proc/stat', 'utf8'));
  } catch {
    return null;
  }
}

/**
 * The shares of all cores' time that were busy and stolen between two readings (0–1 each; NaN when either is
 * missing or no time passed). On a machine where the load generator and the upstreams share the cores with the
 * proxy, how close the whole machine ran to full says more about a run's tail than the proxy's own CPU does.
 */
export function machineShares(from: MachineTicks | null, to: MachineTicks | null): { busy: number; steal: number } {
  if (from === null || to === null || !(to.total > from.total)) return { busy: Number.NaN, steal: Number.NaN };
  const total = to.total - from.total;
  return { busy: (to.busy - from.busy) / total, steal: (to.steal - from.steal) / total };
}
