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
