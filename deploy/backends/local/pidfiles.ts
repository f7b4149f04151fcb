/**
 * One small JSON file per running replica in the state directory, so a later LocalBackend can reap
 * children a dead Sluice left behind. A stale child is killed only when its owner is gone and its
 * /proc cmdline still matches what was recorded (a reused pid is never killed).
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface PidRecord {
  pid: number;
  ownerPid: number;
  replica: string;
  argv: string[];
  startedAt: string;
}

export function defaultStateDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user';
  return join(tmpdir(), `sluice-${uid}`, 'local-backend');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The process's argv from /proc, or null where /proc is not available or the process is gone. */
function cmdline(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s, i, a) => !(s === '' && i === a.length - 1));
  } catch {
    return null;
  }
}

export class PidFiles {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private file(pid: number): string {
    return join(this.dir, `replica-${pid}.json`);
  }

  write(rec: PidRecord): void {
    writeFileSync(this.file(rec.pid), JSON.stringify(rec), { mode: 0o600 });
  }

  remove(pid: number): void {
    rmSync(this.file(pid), { force: true });
  }

  /**
   * Kills (SIGKILL) children recorded by owners that are no longer running, when their cmdline matches.
   * Returns the pids killed. Records of live owners (other Sluice processes, or this one) are left alone.
   */
  reapStale(): number[] {
    const killed: number[] = [];
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return killed;
    }
    for (const name of names) {
      if (!/^replica-\d+\.json$/.test(name)) continue;
      const path = join(this.dir, name);
      let rec: PidRecord;
      try {
        rec = JSON.parse(readFileSync(path, 'utf8')) as PidRecord;
      } catch {
        rmSync(path, { force: true });
        continue;
      }
      if (rec.ownerPid === process.pid || alive(rec.ownerPid)) continue;
      const argv = cmdline(rec.pid);
      if (argv && argv.length === rec.argv.length && argv.every((a, i) => a === rec.argv[i])) {
        try {
          process.kill(rec.pid, 'SIGKILL');
          killed.push(rec.pid);
        } catch {
          // already gone
        }
      }
      rmSync(path, { force: true });
    }
    return killed;
  }
}
