/**
 * SIGKILLs one replica process of the sluice under test: the oldest ready one, and only after checking that
 * the pid really is that sluice's replica (its pidfile names sluice as owner, and its command line is the
 * demo runtime), so a reused pid or another run's replica is never touched.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultStateDir, type PidRecord } from '../../deploy/backends/local/pidfiles.js';
import type { ReplicaTracker, TrackedReplica } from './replica-tracker.js';

export type KillOutcome = { killed: TrackedReplica } | { skipped: string };

function ownedBy(pid: number, ownerPid: number, stateDir: string): boolean {
  try {
    const rec = JSON.parse(readFileSync(join(stateDir, `replica-${pid}.json`), 'utf8')) as PidRecord;
    return rec.ownerPid === ownerPid;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * Kills the oldest ready replica when at least `minReady` are ready (fewer means the last kill is not
 * repaired yet, and a second one would only measure the restart backoff).
 */
export function killOldestReplica(
  tracker: ReplicaTracker,
  sluicePid: number,
  minReady: number,
  stateDir = defaultStateDir(),
): KillOutcome {
  const ready = tracker.ready();
  if (ready.length < minReady) return { skipped: `only ${ready.length} replicas ready (want ${minReady})` };
  const victim = ready[0] as TrackedReplica;
  const pid = victim.pid;
  if (pid === undefined) return { skipped: `replica ${victim.id} logged no pid` };
  if (!ownedBy(pid, sluicePid, stateDir)) return { skipped: `pid ${pid} has no pidfile owned by sluice ${sluicePid}` };
  if (!commandLine(pid).includes('demo-runtime')) return { skipped: `pid ${pid} is not a demo runtime process` };
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    return { skipped: `kill ${pid}: ${(err as Error).message}` };
  }
  tracker.recordKill(victim, Date.now());
  return { killed: victim };
}
