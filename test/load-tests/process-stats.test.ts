import { describe, expect, it } from 'vitest';
import { cpuSeconds, machineShares, machineTicks, openDescriptors, parseMachineTicks } from '../../load-tests/harness/process-stats.js';
import { createServer } from 'node:net';
import { readFileSync } from 'node:fs';

describe('process stats from /proc', () => {
  it('counts the CPU a process burns, as the process itself sees it', () => {
    const before = cpuSeconds(process.pid);
    const own = process.cpuUsage();
    // burn 0.3 s of CPU (not of wall time: this machine is shared)
    while (process.cpuUsage(own).user + process.cpuUsage(own).system < 300_000);
    const seen = process.cpuUsage(own);
    const burnt = cpuSeconds(process.pid) - before;
    expect(burnt).toBeGreaterThanOrEqual(0.25);
    // /proc counts every thread of the process (GC included), as getrusage does: the two agree to a few clock
    // ticks (10 ms each), however busy the machine is.
    expect(Math.abs(burnt - (seen.user + seen.system) / 1e6)).toBeLessThanOrEqual(0.03);
  });

  it('counts a listening socket among the open descriptors', async () => {
    const before = openDescriptors(process.pid);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const during = openDescriptors(process.pid);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(during.sockets - before.sockets).toBe(1);
    expect(during.fds - before.fds).toBe(1);
  });

  it("reads the machine's busy and stolen time from /proc/stat's cpu line, not from one core's", () => {
    const at = (user: number, system: number, idle: number, softirq: number, steal: number): string =>
      `cpu  ${user} 0 ${system} ${idle} 5 0 ${softirq} ${steal} 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\nintr 1\n`;
    const from = parseMachineTicks(at(1000, 500, 8000, 100, 0))!;
    expect(from).toEqual({ busy: 1600, steal: 0, total: 9605 });
    // 400 ticks user, 200 system, 100 softirq, 250 idle, 50 stolen: 1,000 ticks in all.
    const shares = machineShares(from, parseMachineTicks(at(1400, 700, 8250, 200, 50)));
    expect(shares.busy).toBeCloseTo(0.7, 10);
    expect(shares.steal).toBeCloseTo(0.05, 10);
    expect(parseMachineTicks('intr 1\n')).toBeNull();
    expect(machineShares(null, from).busy).toBeNaN();
    expect(machineShares(from, from).busy).toBeNaN();
  });

  it('sees this machine busier while the test burns a core', () => {
    const before = machineTicks()!;
    const own = process.cpuUsage();
    while (process.cpuUsage(own).user + process.cpuUsage(own).system < 300_000);
    const { busy } = machineShares(before, machineTicks());
    // One core busy the whole time: at least its share of all the cores /proc/stat counts, less a tick's rounding.
    const cores = readFileSync('/proc/stat', 'utf8').split('\n').filter((l) => /^cpu\d+ /.test(l)).length;
    expect(busy).toBeGreaterThan(0.9 / cores - 0.05);
  });
});
