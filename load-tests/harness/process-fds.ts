import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** The process and its descendants (nginx's worker sits under its master), from /proc. */
function processTree(pid: number): number[] {
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
