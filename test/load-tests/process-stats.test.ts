import { describe, expect, it } from 'vitest';
import { cpuSeconds, openDescriptors } from '../../load-tests/harness/process-stats.js';
import { createServer } from 'node:net';

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
});
