import { spawn } from 'node:child_process';
import { processTree } from './process-stats.js';

/** A running count of the system calls a process tree makes (`perf stat -e raw_syscalls:sys_enter`). */
export interface SyscallCount {
  /** Stops counting; the number of system calls entered since `startSyscallCount`, or NaN when perf could not count. */
  stop(): Promise<number>;
}

/** Why the last count failed (perf missing, not permitted), for the report; null when counting works. */
export let syscallCountProblem: string | null = null;

/**
 * Counts the system calls of `pid` and its descendants (every thread) from now until `stop()`: `perf stat` attached
 * to the processes, counting the kernel's `raw_syscalls:sys_enter` tracepoint. It costs the measured processes
 * one counter increment per system call (no sampling, no stacks), so it runs over the measured window itself.
 * Needs perf and a `kernel.perf_event_paranoid` that lets this user attach (root here); otherwise every count is
 * NaN and `syscallCountProblem` says why.
 */
export async function startSyscallCount(pid: number | undefined): Promise<SyscallCount> {
  if (pid === undefined) return { stop: async () => Number.NaN };
  const pids = processTree(pid);
  const child = spawn('perf', ['stat', '-x', ',', '-e', 'raw_syscalls:sys_enter', '-p', pids.join(',')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s.length + stderr.length < 64 * 1024 ? s : ''));
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      stderr += String(err);
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  });
  // perf attaches in a few ms; wait for it so the count covers the whole window (the idle 100 ms adds a handful).
  await new Promise((r) => setTimeout(r, 100));
  return {
    stop: async () => {
      child.kill('SIGINT');
      await exited;
      const line = stderr.split('\n').find((l) => l.includes('raw_syscalls:sys_enter'));
      const n = line === undefined ? Number.NaN : Number(line.split(',')[0]);
      if (!Number.isFinite(n)) {
        syscallCountProblem = `perf stat -e raw_syscalls:sys_enter failed: ${stderr.trim().split('\n').slice(-2).join(' ') || 'no output'}`;
        return Number.NaN;
      }
      return n;
    },
  };
}
