import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

describe('reading a real child process', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL');
  });

  it('reads the CPU time and resident memory the child itself reports', async () => {
    // The child burns 300 ms of its own CPU time holding ~50 MB, prints its own accounting, then sleeps.
    const script =
      'const b = Buffer.alloc(50e6, 1); let x = 0; const end = Date.now() + 10000;' +
      'while (Date.now() < end) { x++; if (x % 100000 === 0) { const c = process.cpuUsage(); if (c.user + c.system > 300000) break; } }' +
      'const u = process.cpuUsage(); console.log(JSON.stringify({ cpu: (u.user + u.system) / 1e6, rss: process.memoryUsage().rss, b: b[0] + x }));' +
      'setTimeout(() => {}, 5000);';
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(child);
    const line = await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString())));
    const self = JSON.parse(line) as { cpu: number; rss: number };
    await new Promise((r) => setTimeout(r, 50));
    const sample = readProcessSample(child.pid!)!;
    expect(sample).not.toBeNull();
    // /proc counts in 10 ms ticks; allow a few ticks for the print itself
    expect(Math.abs(sample.cpuTicks / 100 - self.cpu)).toBeLessThan(0.06);
    expect(self.cpu).toBeGreaterThan(0.2);
    expect(sample.rssBytes).toBeGreaterThan(50e6);
    expect(Math.abs(sample.rssBytes - self.rss) / self.rss).toBeLessThan(0.2);
  });

  it('reports nothing for a process that is gone', () => {
    expect(readProcessSample(2 ** 22 + 12345)).toBeNull();
  });
});

describe('LocalUsageSource', () => {
  it('turns CPU time between two reads into percent of one CPU, and RSS into percent of the limit', async () => {
    const root = await mkdtemp(join(tmpdir(), 'sluice-proc-'));
    try {
      const write = async (ticks: number, rssKb: number) => {
        await mkdir(join(root, '42'), { recursive: true });
        await writeFile(join(root, '42', 'stat'), `42 (python3) S 1 42 42 0 -1 0 0 0 0 0 ${ticks - 10} 10 0 0 20 0 1 0 1 1 1`);
        await writeFile(join(root, '42', 'status'), `Name:\tpython3\nVmRSS:\t${rssKb} kB\n`);
      };
      let now = 1_000_000;
      const source = new LocalUsageSource(() => [{ replicaId: 'ns/r#1', pid: 42, memoryLimitBytes: 1024 * 1024 * 1024 }], {
        procRoot: root,
        now: () => now,
        clockTicksPerSecond: 100,
      });
      await write(1000, 262_144);
      expect(source.usage('ns/r')).toEqual([]);
      now += 2000;
      await write(1150, 262_144); // 150 ticks = 1.5 s of CPU in 2 s
      expect(source.usage('ns/r')).toEqual([{ replicaId: 'ns/r#1', cpuPercent: 75, memoryPercent: 25 }]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
