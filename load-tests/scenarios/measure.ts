import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { runClosedLoop } from '../harness/closed-loop.js';
import type { LoadResult, RequestShape } from '../harness/load-result.js';
import { runFixedRate } from '../harness/fixed-rate.js';
import { runOpenLoop } from '../harness/open-loop.js';
import type { Settings } from '../harness/settings.js';
import { interleaved, type StartedSystem } from '../harness/system-set.js';
import type { RunningUpstreams } from '../upstreams/upstream-pair.js';
import { cpuSeconds, machineShares, machineTicks } from '../harness/process-stats.js';
import { median } from '../harness/stats.js';
import { startSyscallCount } from '../harness/syscall-count.js';
import { startPerfRecord } from '../harness/perf-record.js';

/** One measured run plus the share of its requests the canary received and the system's CPU cost. */
export interface RoundResult extends LoadResult {
  canaryShare: number;
  /** CPU microseconds (user + system) the system's processes spent per completed request; NaN for direct */
  cpuPerRequestUs: number;
  /** System calls the system's processes made per completed request (perf stat over the run); NaN for direct */
  syscallsPerRequest: number;
  /** Share of all the machine's cores busy over the run (generator, upstreams and system together; 0–1, NaN unknown) */
  machineBusy: number;
  /** Share of all the machine's core time the hypervisor took (0–1, NaN unknown) */
  machineSteal: number;
}

export type Measurements = Map<string, RoundResult[]>;

async function measured(
  system: StartedSystem,
  upstreams: RunningUpstreams,
  run: () => Promise<LoadResult>,
  label: string,
): Promise<RoundResult> {
  const pid = system.running.pid;
  const perf = await startPerfRecord(system.definition.name, pid, label);
  const [p0, c0] = await upstreams.stats();
  const syscalls = await startSyscallCount(pid);
  const cpu0 = pid === undefined ? Number.NaN : cpuSeconds(pid);
  const machine0 = machineTicks();
  const result = await run();
  const machine = machineShares(machine0, machineTicks());
  const cpu1 = pid === undefined ? Number.NaN : cpuSeconds(pid);
  const calls = await syscalls.stop();
  await perf.stop();
  const [p1, c1] = await upstreams.stats();
  const primary = p1.requests - p0.requests;
  const canary = c1.requests - c0.requests;
  return {
    ...result,
    canaryShare: primary + canary === 0 ? Number.NaN : canary / (primary + canary),
    cpuPerRequestUs: ((cpu1 - cpu0) * 1e6) / Math.max(1, primary + canary),
    syscallsPerRequest: calls / Math.max(1, primary + canary),
    machineBusy: machine.busy,
    machineSteal: machine.steal,
  };
}

/** `--warmup` seconds of closed loop (16 connections) for each system in turn, before anything is measured or probed. */
export async function warmUp(systems: readonly StartedSystem[], request: RequestShape, settings: Settings): Promise<void> {
  if (settings.warmupS <= 0) return;
  for (const s of systems) await runClosedLoop(s.running.url, request, 16, settings.warmupS, settings.client);
}

/** Closed loop at `settings.connections`, every system every round, interleaved. */
export async function measureSaturation(
  systems: readonly StartedSystem[],
  upstreams: RunningUpstreams,
  request: RequestShape,
  settings: Settings,
  log: (line: string) => void,
): Promise<Measurements> {
  await warmUp(systems, request, settings);
  return interleaved(systems, settings.rounds, async (s, round) => {
    const result = await measured(s, upstreams, () =>
      runClosedLoop(s.running.url, request, settings.connections, settings.durationS, settings.client),
      `${request.method.toLowerCase()}-saturation-r${round + 1}`,
    );
    log(`${request.method} saturation round ${round + 1} ${s.definition.name}: ${result.throughput.toFixed(0)} req/s`);
    return result;
  });
}

/** Open loop at a fixed `rate`, every system every round, interleaved. */
export async function measureLatency(
  systems: readonly StartedSystem[],
  upstreams: RunningUpstreams,
  request: RequestShape,
  rate: number,
  settings: Settings,
  log: (line: string) => void,
): Promise<Measurements> {
  const timelines = process.env['SLUICE_BENCH_TIMELINE_DIR'] || undefined;
  if (timelines !== undefined) {
    if (settings.openClient !== 'c') throw new Error('SLUICE_BENCH_TIMELINE_DIR needs the C generator (--open-client c): the Node one writes no timeline');
    mkdirSync(timelines, { recursive: true });
  }
  await warmUp(systems, request, settings);
  return interleaved(systems, settings.rounds, async (s, round) => {
    const label = `${request.method.toLowerCase()}-${rate}rps-r${round + 1}`;
    const timeline = timelines === undefined ? undefined : join(timelines, `${s.definition.name}-${label}.txt`);
    const result = await measured(s, upstreams, () =>
      settings.openClient === 'c'
        ? runFixedRate(s.running.url, request, rate, settings.durationS, settings.openLoopConnections, 1, timeline)
        : runOpenLoop(s.running.url, request, rate, settings.durationS, settings.openLoopConnections),
      label,
    );
    log(
      `${request.method} @${rate}/s round ${round + 1} ${s.definition.name}: p50 ${result.latency.p50.toFixed(2)} ms p99 ${result.latency.p99.toFixed(2)} ms`,
    );
    return result;
  });
}

/** How many closed-loop probes of a system's capacity the rate set from it is the median of. */
export const CAPACITY_PROBES = 3;

/**
 * Each system's capacity (req/s) to set an open-loop rate: the median of CAPACITY_PROBES closed-loop runs of up to
 * 5 s each, systems interleaved. The systems are warmed first, as before any measured round: a process probed
 * straight after its start runs code not yet optimised and gives a capacity well under what the saturation scenario
 * measures (Sluice 8,200 req/s cold against 11,776 warmed and 12,655 in saturation on 2026-12-07, so "half load" was
 * a third of it). One probe is not enough on a shared host either: two warmed single probes of the same build minutes
 * apart gave 9,361 and 15,201 req/s that day.
 */
export async function probeCapacity(
  systems: readonly StartedSystem[],
  request: RequestShape,
  settings: Settings,
): Promise<Map<string, number>> {
  await warmUp(systems, request, settings);
  const runs = new Map<string, number[]>(systems.map((s) => [s.definition.name, []]));
  for (let probe = 0; probe < CAPACITY_PROBES; probe++) {
    for (const s of systems) {
      const result = await runClosedLoop(s.running.url, request, settings.connections, Math.min(5, settings.durationS), settings.client);
      runs.get(s.definition.name)!.push(result.throughput);
    }
  }
  return new Map([...runs].map(([name, values]) => [name, median(values)]));
}
