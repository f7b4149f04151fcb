import { formatNumber, formatSpread, median, percent, signedFixed, spread, type Spread } from '../harness/stats.js';
import type { Measurements, RoundResult } from '../scenarios/measure.js';
import { syscallCountProblem } from '../harness/syscall-count.js';
import { barChart, lineChart } from './svg.js';

export interface SystemSummary {
  name: string;
  throughput: number;
  throughputMin: number;
  throughputMax: number;
  p50: number;
  p90: number;
  p99: number;
  /** Each round's p99 in round order: one round's tail can be ten times another's (latency.md), and a median hides that. */
  p99ByRound: number[];
  serviceP50: number;
  canaryShare: number;
  cpuPerRequestUs: number;
  syscallsPerRequest: number;
  /** Share of the machine's cores busy, and taken by the hypervisor, over a run (medians; 0–1, NaN unknown). */
  machineBusy: number;
  machineSteal: number;
  failures: number;
  rounds: number;
}

/** Medians over rounds of every per-round figure. */
export function summarise(measurements: Measurements): SystemSummary[] {
  return [...measurements.entries()].map(([name, rounds]) => {
    const pick = (f: (r: RoundResult) => number): number => median(rounds.map(f));
    const tput = rounds.map((r) => r.throughput);
    return {
      name,
      throughput: median(tput),
      throughputMin: Math.min(...tput),
      throughputMax: Math.max(...tput),
      p50: pick((r) => r.latency.p50),
      p90: pick((r) => r.latency.p90),
      p99: pick((r) => r.latency.p99),
      p99ByRound: rounds.map((r) => r.latency.p99),
      serviceP50: pick((r) => r.serviceLatency?.p50 ?? Number.NaN),
      canaryShare: pick((r) => r.canaryShare),
      cpuPerRequestUs: pick((r) => r.cpuPerRequestUs),
      syscallsPerRequest: pick((r) => r.syscallsPerRequest),
      machineBusy: pick((r) => r.machineBusy),
      machineSteal: pick((r) => r.machineSteal),
      failures: rounds.reduce((n, r) => n + r.errors + r.non2xx, 0),
      rounds: rounds.length,
    };
  });
}

const ratio = (a: number, b: number | undefined): string =>
  b === undefined || !(b > 0) ? '–' : `${(a / b).toFixed(2)}×`;

const share = (s: SystemSummary, splits: boolean): string =>
  splits && Number.isFinite(s.canaryShare) ? `${(s.canaryShare * 100).toFixed(1)} %` : 'n/a';

/**
 * A proxy's cost per request (its process tree's CPU or system calls); `direct` has no proxy process, so its
 * cost is none rather than unknown. A NaN elsewhere (perf could not count) shows as `?`.
 */
const proxyCost = (r: SystemSummary, v: number, digits: number): string =>
  Number.isFinite(v) ? formatNumber(v, digits) : r.name === 'direct' ? '0 (no proxy)' : '?';

/** The machine's busy share as a percentage, with the hypervisor's share when it took any ('?' when unknown). */
function machineBusy(r: SystemSummary): string {
  if (!Number.isFinite(r.machineBusy)) return '?';
  const busy = `${Math.round(r.machineBusy * 100)} %`;
  return r.machineSteal >= 0.005 ? `${busy} (steal ${Math.round(r.machineSteal * 100)} %)` : busy;
}

const MACHINE_NOTE =
  ' Machine busy: the share of all cores\' time (/proc/stat: user, nice, system, irq, softirq) spent over the run by ' +
  'everything on the machine (the generator, the upstreams and the system measured), median over rounds; where they ' +
  'share a few cores, a run\'s tail follows how close the whole machine came to full more than the proxy\'s own CPU.';

/** How the two cost columns were measured, under each table that has them. */
function costNote(): string {
  return (
    '\n\nCPU µs/req: user + system CPU of the proxy\'s process tree (/proc) over the measured run ÷ responses the ' +
    'upstreams counted; syscalls/req: `perf stat -e raw_syscalls:sys_enter -p <its pids>` over the same run ÷ the same count.' +
    (syscallCountProblem ? ` System calls were not counted: ${syscallCountProblem}.` : '')
  );
}

/** Saturation table: throughput medians and ratios to each baseline present. */
export function saturationTable(rows: readonly SystemSummary[], splitting: ReadonlySet<string>): string {
  const of = (name: string): number | undefined => rows.find((r) => r.name === name)?.throughput;
  const [d, n, h] = [of('direct'), of('nginx'), of('haproxy')];
  const lines = [
    '| system | req/s (median) | min–max over rounds | × direct | × nginx | × haproxy | CPU µs/req | syscalls/req | p50 ms | p99 ms | canary share | errors + non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.name} | ${formatNumber(r.throughput)} | ${formatNumber(r.throughputMin)}–${formatNumber(r.throughputMax)} | ${ratio(r.throughput, d)} | ${ratio(r.throughput, n)} | ${ratio(r.throughput, h)} | ${proxyCost(r, r.cpuPerRequestUs, 1)} | ${proxyCost(r, r.syscallsPerRequest, 1)} | ${formatNumber(r.p50, 0)} | ${formatNumber(r.p99, 0)} | ${share(r, splitting.has(r.name))} | ${r.failures} |`,
    );
  }
  return lines.join('\n') + costNote();
}

/** Latency table at a fixed rate: percentiles and added latency over direct. */
export function latencyTable(rows: readonly SystemSummary[], splitting: ReadonlySet<string>): string {
  const d = rows.find((r) => r.name === 'direct');
  const added = (v: number, base: number | undefined): string =>
    base === undefined ? '–' : `${v - base >= 0 ? '+' : ''}${formatNumber(v - base, 2)}`;
  const lines = [
    '| system | achieved req/s | p50 ms | p90 ms | p99 ms | p99 by round ms | added p50 ms | added p99 ms | service p50 ms | CPU µs/req | syscalls/req | machine busy | canary share | errors + non-2xx |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    const byRound = r.p99ByRound.map((v) => formatNumber(v, 2)).join(' / ');
    lines.push(
      `| ${r.name} | ${formatNumber(r.throughput)} | ${formatNumber(r.p50, 2)} | ${formatNumber(r.p90, 2)} | ${formatNumber(r.p99, 2)} | ${byRound} | ${added(r.p50, d?.p50)} | ${added(r.p99, d?.p99)} | ${formatNumber(r.serviceP50, 2)} | ${proxyCost(r, r.cpuPerRequestUs, 1)} | ${proxyCost(r, r.syscallsPerRequest, 1)} | ${machineBusy(r)} | ${share(r, splitting.has(r.name))} | ${r.failures} |`,
    );
  }
  return lines.join('\n') + costNote() + MACHINE_NOTE;
}

/** One load of a latency sweep: its fraction of the reference's capacity, the rate it came to, the rows measured. */
export interface LoadPoint {
  load: number;
  rate: number;
  rows: SystemSummary[];
}

/** A fraction of capacity as a percentage ("50 %"). */
export function formatLoad(load: number): string {
  return `${Math.round(load * 1000) / 10} %`;
}

/**
 * A latency sweep in one table: a row per system, a column per load with its added p99 over direct, CPU per
 * request and the machine's busy share, and the highest load at which the added p99 stayed within `budgetMs` with
 * no request failed.
 */
export function loadSweepTable(points: readonly LoadPoint[], budgetMs: number): string {
  const names = points[0]?.rows.map((r) => r.name).filter((n) => n !== 'direct') ?? [];
  const header = `| system | ${points.map((p) => `${formatLoad(p.load)} (${formatNumber(p.rate)} req/s)`).join(' | ')} | highest load with added p99 ≤ ${budgetMs} ms |`;
  const lines = [header, `|---|${points.map(() => '---:').join('|')}|---|`];
  for (const name of names) {
    let within: number | null = null;
    const cells = points.map((p) => {
      const r = p.rows.find((x) => x.name === name);
      const d = p.rows.find((x) => x.name === 'direct');
      if (r === undefined || d === undefined) return '–';
      const added = r.p99 - d.p99;
      if (added <= budgetMs && r.failures === 0) within = Math.max(within ?? 0, p.load);
      const busy = Number.isFinite(r.machineBusy) ? `, machine ${Math.round(r.machineBusy * 100)} %` : '';
      return `${added >= 0 ? '+' : ''}${formatNumber(added, 2)} ms, ${proxyCost(r, r.cpuPerRequestUs, 0)} µs${busy}`;
    });
    lines.push(`| ${name} | ${cells.join(' | ')} | ${within === null ? 'none measured' : formatLoad(within)} |`);
  }
  return (
    lines.join('\n') +
    `\n\nEach cell: added p99 over direct at that load (medians over rounds), the system's CPU µs per request and how busy ` +
    'the whole machine was (all cores, generator and upstreams included). Loads are ' +
    'fractions of the reference system\'s probed capacity, measured one after another in this run (one round\'s tail ' +
    'can be ten times the next one\'s: the tables above give each round).'
  );
}

export function cpuChart(title: string, byMethod: ReadonlyArray<[string, SystemSummary[]]>): string {
  const names = (byMethod[0]?.[1] ?? []).filter((r) => Number.isFinite(r.cpuPerRequestUs)).map((r) => r.name);
  return barChart({
    title,
    yLabel: 'CPU µs per request (median of rounds)',
    categories: names,
    series: byMethod.map(([method, rows]) => ({
      name: method,
      values: names.map((n) => rows.find((r) => r.name === n)?.cpuPerRequestUs ?? Number.NaN),
    })),
  });
}

export function throughputChart(title: string, byMethod: ReadonlyArray<[string, SystemSummary[]]>): string {
  const names = byMethod[0]?.[1].map((r) => r.name) ?? [];
  return barChart({
    title,
    yLabel: 'requests/s (median of rounds)',
    categories: names,
    series: byMethod.map(([method, rows]) => ({
      name: method,
      values: names.map((n) => rows.find((r) => r.name === n)?.throughput ?? Number.NaN),
    })),
  });
}

export function percentileChart(title: string, rows: readonly SystemSummary[]): string {
  return barChart({
    title,
    yLabel: 'latency ms (median of rounds)',
    logScale: true,
    categories: rows.map((r) => r.name),
    series: [
      { name: 'p50', values: rows.map((r) => r.p50) },
      { name: 'p90', values: rows.map((r) => r.p90) },
      { name: 'p99', values: rows.map((r) => r.p99) },
    ],
  });
}

/**
 * Whether the last round of any system has per-second counts: the closed-loop generator wrk reports totals only
 * (harness/wrk.ts), so a wrk run has no time series to draw, and a report shows no empty chart for it.
 */
export function hasTimeSeries(measurements: Measurements): boolean {
  return [...measurements.values()].some((rounds) => (rounds[rounds.length - 1]?.perSecond.length ?? 0) > 0);
}

/** The note a report carries instead of a time-series chart when `hasTimeSeries` is false. */
export const NO_TIME_SERIES_NOTE = 'No per-second chart: wrk reports totals only (`--client autocannon` runs draw one).';

/** Completions per second of each system's last round. */
export function timeSeriesChart(title: string, measurements: Measurements): string {
  return lineChart({
    title,
    xLabel: 'second of the last round',
    yLabel: 'responses/s',
    series: [...measurements.entries()].map(([name, rounds]) => ({
      name,
      points: (rounds[rounds.length - 1]?.perSecond ?? []).map((v, i) => [i + 1, v] as const),
    })),
  });
}

/** A figure with its goal's verdict, for reports: "5xx: 0 ✓" or "5xx: 12 ✗". */
export function verdict(label: string, value: string, ok: boolean): string {
  return `${label}: ${value} ${ok ? '✓' : '✗'}`;
}

/** One system against another, round by round: each round's figures compared within the round, then their median and range. */
export interface PairedRounds {
  rounds: number;
  /** other ÷ base throughput per round. */
  throughputRatio: Spread;
  /** other − base CPU µs per request per round. */
  cpuDeltaUs: Spread;
  /** other − base p50 (ms) per round. */
  p50DeltaMs: Spread;
}

/**
 * `other` against `base` in the same rounds (the interleaved harness measures every system once per round): less
 * disturbed by drift between rounds than a ratio of the two medians. Null when either has no rounds.
 */
export function pairedRounds(measurements: Measurements, base: string, other: string): PairedRounds | null {
  const a = measurements.get(base) ?? [];
  const b = measurements.get(other) ?? [];
  const n = Math.min(a.length, b.length);
  if (n === 0) return null;
  const perRound = (f: (x: RoundResult, y: RoundResult) => number): Spread => spread(Array.from({ length: n }, (_, i) => f(a[i]!, b[i]!)));
  return {
    rounds: n,
    throughputRatio: perRound((x, y) => y.throughput / x.throughput),
    cpuDeltaUs: perRound((x, y) => y.cpuPerRequestUs - x.cpuPerRequestUs),
    p50DeltaMs: perRound((x, y) => y.latency.p50 - x.latency.p50),
  };
}

/** One line for a report: `other` against `base`, round by round. */
export function pairedRoundsLine(p: PairedRounds, base: string, other: string, what: 'saturated' | 'open loop'): string {
  const cpu = `CPU per request ${formatSpread(p.cpuDeltaUs, (x) => signedFixed(x, 1), 'µs')}`;
  const head = `Round by round (${p.rounds} rounds), ${other} against ${base} in the same round:`;
  return what === 'saturated'
    ? `${head} throughput ${formatSpread(p.throughputRatio, percent)}, ${cpu}.`
    : `${head} p50 ${formatSpread(p.p50DeltaMs, (x) => signedFixed(x, 3), 'ms')}, ${cpu}.`;
}
