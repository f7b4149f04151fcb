/**
 * A diagnostic preload for the systems a benchmark starts (issue 19's tail): with
 *   SLUICE_BENCH_NODE_FLAGS="--max-semi-space-size=64 --import ./dist/load-tests/support/loop-monitor.js"
 *   SLUICE_LOOP_MONITOR=/tmp/NAME-loop.txt
 * every Sluice process the harness starts appends one line per `SLUICE_LOOP_MONITOR_EVERY_S` seconds (default 5)
 * to that file: event-loop delay (p50/p99/max, 1 ms resolution), event-loop utilisation, stalls over 4 ms seen by
 * a 1 ms timer and how many of them overlapped a GC, how many of them the process spent mostly off the CPU
 * (it used less than half the stall's time: it waited for a core) and the milliseconds of those and of the busy
 * ones (long turns), GC pauses by kind (count, total, longest), and the TCP connections the process accepted and
 * opened (to upstreams) in the window. Off unless the variable is set; it costs a 1 ms timer and a getrusage call
 * per tick, so it is a diagnostic, never part of a measured comparison.
 */
import dc from 'node:diagnostics_channel';
import { appendFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';

const file = process.env['SLUICE_LOOP_MONITOR'];
if (file !== undefined && file !== '') {
  const everyMs = Math.max(1, Number(process.env['SLUICE_LOOP_MONITOR_EVERY_S'] ?? 5)) * 1000;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const GC_KINDS: Record<number, string> = { 1: 'scavenge', 2: 'mark-compact', 4: 'incremental', 8: 'weak-callbacks' };
  let gcs: Array<{ kind: string; start: number; ms: number }> = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      if (gcs.length < 10_000) gcs.push({ kind: GC_KINDS[kind] ?? String(kind), start: e.startTime, ms: e.duration });
    }
  }).observe({ entryTypes: ['gc'] });
  // Each stall with the CPU time the process used during it: a stall with little CPU is time the process was not
  // running (waiting for a core), one with CPU close to its length is a long turn of the event loop.
  let stalls: Array<{ start: number; ms: number; cpuMs: number }> = [];
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = performance.now();
    const cpu = process.cpuUsage();
    if (now - last > 4 && stalls.length < 10_000)
      stalls.push({ start: last, ms: now - last, cpuMs: (cpu.user + cpu.system - lastCpu.user - lastCpu.system) / 1000 });
    last = now;
    lastCpu = cpu;
  }, 1).unref();
  let accepted = 0;
  let upstream = 0;
  dc.subscribe('net.server.socket', () => accepted++);
  dc.subscribe('net.client.socket', () => upstream++);
  let elu = performance.eventLoopUtilization();
  const report = (): void => {
    const ms = (ns: number): string => (ns / 1e6).toFixed(2);
    const byKind: Record<string, { n: number; totalMs: number; maxMs: number }> = {};
    for (const g of gcs) {
      const b = (byKind[g.kind] ??= { n: 0, totalMs: 0, maxMs: 0 });
      b.n += 1;
      b.totalMs = Math.round((b.totalMs + g.ms) * 100) / 100;
      b.maxMs = Math.max(b.maxMs, Math.round(g.ms * 100) / 100);
    }
    const inGc = stalls.filter((s) => gcs.some((g) => g.start < s.start + s.ms && g.start + g.ms > s.start));
    const used = performance.eventLoopUtilization(elu);
    const offCpu = stalls.filter((s) => s.cpuMs < s.ms / 2);
    const line = {
      at: new Date().toISOString(),
      pid: process.pid,
      loopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
      utilisation: Number(used.utilization.toFixed(3)),
      stallsOver4ms: stalls.length,
      stallsOver10ms: stalls.filter((s) => s.ms > 10).length,
      stallsOverlappingGc: inGc.length,
      longestStallMs: Number(Math.max(0, ...stalls.map((s) => s.ms)).toFixed(1)),
      // stalls in which the process ran less than half the time, and the milliseconds they add up to
      stallsOffCpu: offCpu.length,
      offCpuStallMs: Number(offCpu.reduce((t, s) => t + s.ms, 0).toFixed(1)),
      busyStallMs: Number(stalls.filter((s) => s.cpuMs >= s.ms / 2).reduce((t, s) => t + s.ms, 0).toFixed(1)),
      gc: byKind,
      connections: { accepted, upstream },
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
    delay.reset();
    gcs = [];
    stalls = [];
    accepted = 0;
    upstream = 0;
    elu = performance.eventLoopUtilization();
  };
  setInterval(report, everyMs).unref();
  process.once('exit', report);
}
