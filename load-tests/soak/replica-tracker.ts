/**
 * Follows the local backend's replica lines in sluice's JSON log ('replica starting' with the replica's pid,
 * 'replica ready', 'replica failed', 'replica stopped') and matches each kill the soak makes with the
 * failure sluice saw and the replacement that became ready. Pure: it only reads the lines it is given.
 */
import type { LogLine } from '../support/sluice-process.js';

export interface TrackedReplica {
  id: string;
  pid: number | undefined;
  url: string | undefined;
  /** log times (ms since the epoch) */
  startingAt: number;
  readyAt: number | undefined;
  goneAt: number | undefined;
  /** the backend's words for how it went ('crashed: killed by SIGKILL', 'scaled down', …) */
  goneHow: string | undefined;
}

export interface KillRecord {
  /** ms since the epoch */
  at: number;
  replica: string;
  pid: number;
  /** when sluice logged the killed replica's failure, and how it described it */
  failedAt: number | undefined;
  failedHow: string | undefined;
  /** the replica that took its place, and when that one was ready */
  replacement: string | undefined;
  restoredAt: number | undefined;
}

export class ReplicaTracker {
  private readonly replicas = new Map<string, TrackedReplica>();
  private readonly killed: KillRecord[] = [];

  observe(line: LogLine): void {
    const id = line['replica'];
    if (typeof id !== 'string' || line['stream'] !== undefined) return; // a replica's own output, forwarded
    if (line.msg === 'replica starting') {
      const pid = line['pid'];
      const url = line['url'];
      this.replicas.set(id, {
        id,
        pid: typeof pid === 'number' ? pid : undefined,
        url: typeof url === 'string' ? url : undefined,
        startingAt: line.time,
        readyAt: undefined,
        goneAt: undefined,
        goneHow: undefined,
      });
      return;
    }
    const r = this.replicas.get(id);
    if (!r) return;
    if (line.msg === 'replica ready') {
      r.readyAt = line.time;
      const kill = this.killed.find((k) => k.replacement === undefined && k.at <= r.startingAt);
      if (kill) {
        kill.replacement = id;
        kill.restoredAt = line.time;
      }
    } else if (line.msg === 'replica failed' || line.msg === 'replica stopped') {
      r.goneAt = line.time;
      const how = line['reason'] ?? line['exit'];
      r.goneHow = typeof how === 'string' ? how : line.msg;
      const kill = this.killed.find((k) => k.replica === id);
      if (kill) {
        kill.failedAt = line.time;
        kill.failedHow = r.goneHow;
      }
    }
  }

  /** Replicas ready and not gone, oldest ready first. */
  ready(): TrackedReplica[] {
    return [...this.replicas.values()]
      .filter((r) => r.readyAt !== undefined && r.goneAt === undefined)
      .sort((a, b) => (a.readyAt as number) - (b.readyAt as number));
  }

  /** Records that the soak killed `replica` at `at` (ms since the epoch). */
  recordKill(replica: TrackedReplica, at: number): void {
    this.killed.push({
      at,
      replica: replica.id,
      pid: replica.pid ?? -1,
      failedAt: undefined,
      failedHow: undefined,
      replacement: undefined,
      restoredAt: undefined,
    });
  }

  kills(): readonly KillRecord[] {
    return this.killed;
  }
}
