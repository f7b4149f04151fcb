import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import type { ReplicaUsage, ResourceUsageSource } from '../../../autoscaler/policies/resource.js';

/** CPU time and resident memory of one process, from /proc. */
export interface ProcessSample {
  /** user + system CPU time, in clock ticks. */
  cpuTicks: number;
  /** Resident set size, bytes. */
  rssBytes: number;
}

/** Parses /proc/<pid>/stat: user and system time (fields 14 and 15) in clock ticks. The name may hold spaces or parentheses. */
export function parseProcStat(text: string): number {
  const close = text.lastIndexOf(')');
  if (close < 0) throw new Error('malformed /proc/<pid>/stat: no ")"');
  const fields = text.slice(close + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state); utime is field 14 → fields[11], stime field 15 → fields[12].
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc/<pid>/stat: no utime/stime');
  return utime + stime;
}

/** Parses /proc/<pid>/status: VmRSS in bytes (0 when absent, e.g. a zombie). */
export function parseProcStatus(text: string): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export function readProcessSample(pid: number, procRoot = '/proc'): ProcessSample | null {
  try {
    const cpuTicks = parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
    const rssBytes = parseProcStatus(readFileSync(`${procRoot}/${pid}/status`, 'utf8'));
    return { cpuTicks, rssBytes };
  } catch {
    return null;
  }
}

export interface LocalReplicaProcess {
  replicaId: string;
  pid: number;
  /** The replica's memory limit in bytes, or null (then the machine's memory is the base). */
  memoryLimitBytes: number | null;
}

/**
 * CPU and memory of the local backend's replicas. CPU percent is the CPU time used between two reads divided by
 * the wall time between them (100 = one core); the first read of a process has no CPU figure yet and is left
 * out. Remembers one previous sample per live replica (bounded by the replicas the backend reports).
 */
export class LocalUsageSource implements ResourceUsageSource {
  private readonly previous = new Map<string, { revisionKey: string; at: number; ticks: number }>();
  private readonly clockTicks: number;
  private readonly now: () => number;
  private readonly procRoot: string;

  constructor(
    private readonly processes: (revisionKey: string) => LocalReplicaProcess[],
    opts: { clockTicksPerSecond?: number; now?: () => number; procRoot?: string } = {},
  ) {
    this.clockTicks = opts.clockTicksPerSecond ?? 100;
    this.now = opts.now ?? (() => performance.timeOrigin + performance.now());
    this.procRoot = opts.procRoot ?? '/proc';
  }

  usage(revisionKey: string): ReplicaUsage[] {
    const out: ReplicaUsage[] = [];
    const live = new Set<string>();
    for (const p of this.processes(revisionKey)) {
      live.add(p.replicaId);
      const sample = readProcessSample(p.pid, this.procRoot);
      if (!sample) continue;
      const at = this.now();
      const prev = this.previous.get(p.replicaId);
      this.previous.set(p.replicaId, { revisionKey, at, ticks: sample.cpuTicks });
      if (!prev || at <= prev.at) continue;
      const cpuSeconds = (sample.cpuTicks - prev.ticks) / this.clockTicks;
      const cpuPercent = Math.max(0, (cpuSeconds / ((at - prev.at) / 1000)) * 100);
      const base = p.memoryLimitBytes && p.memoryLimitBytes > 0 ? p.memoryLimitBytes : totalmem();
      out.push({ replicaId: p.replicaId, cpuPercent, memoryPercent: (sample.rssBytes / base) * 100 });
    }
    for (const [id, v] of this.previous) if (v.revisionKey === revisionKey && !live.has(id)) this.previous.delete(id);
    return out;
  }
}
