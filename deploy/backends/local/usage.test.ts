import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalUsageSource, parseProcStat, parseProcStatus, readProcessSample } from './usage.js';

describe('/proc parsers', () => {
  it('reads utime + stime even when the command name has spaces and parentheses', () => {
    const stat = '4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 170 30 0 0 20 0 1 0 100 1000 200';
    expect(parseProcStat(stat)).toBe(200);
    expect(() => parseProcStat('garbage')).toThrow();
  });

  it('reads VmRSS in bytes', () => {
    expect(parseProcStatus('Name:\tnode\nVmPeak:\t  9000 kB\nVmRSS:\t   2048 kB\nThreads: 7\n')).toBe(2048 * 1024);
    expect(parseProcStatus('Name:\tzombie\n')).toBe(0);
  });
});

describe('LocalUsageSource on a real child process', () => {
  let child: ChildProcess | null = null;
  afterEach(() => {
    child?.kill('SIGKILL');
    child = null;
  });

  it('sees a busy child use about one CPU and some memory', async () => {
    // Busy-loops for ~1.5 s, holding ~50 MB.
    child = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(50e6, 1); const end = Date.now() + 1500; while (Date.now() < end) {} b[0]++'], {
      stdio: 'ignore',
    });
    const pid = child.pid!;
    await new Promise((r) => setTimeout(r, 200));
    expect(readProcessSample(pid)).not.toBeNull();
    const source = new LocalUsageSource(() => [{ replicaId: 'ns/r#1', pid, memoryLimitBytes: 1024 * 1024 * 1024 }]);
    expect(source.usage('ns/r')).toEqual([]); // first read: no CPU figure yet
    await new Promise((r) => setTimeout(r, 700));
    const [u] = source.usage('ns/r');
    expect(u!.replicaId).toBe('ns/r#1');
    expect(u!.cpuPercent).toBeGreaterThan(50);
    expect(u!.cpuPercent).toBeLessThan(150);
    // ≥ 50 MB of a 1 GiB limit
    expect(u!.memoryPercent).toBeGreaterThan(4.5);
    expect(u!.memoryPercent).toBeLessThan(50);
  });

  it('reports nothing for a process that is gone', () => {
    expect(readProcessSample(2 ** 22 + 12345)).toBeNull();
  });
});
