/**
 * When did a fixed-rate run's tail happen? Reads the per-request timeline the C generator writes
 * (harness/fixed-rate.c, FIXED_RATE_TIMELINE; the harness sets it per run with SLUICE_BENCH_TIMELINE_DIR) and prints
 * the windows whose worst latency was over a threshold: a p99 made by a few long episodes reads differently from
 * one made by many short waits spread over the run.
 *
 *   node dist/load-tests/timeline.js <file> [--window-ms 50] [--over-ms 5]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { percentileOfSorted as percentile } from './harness/stats.js';

export interface TimelineRow {
  /** When the request was due, ms from the run's start (the unrecorded first second included). */
  dueMs: number;
  /** From the due time to the complete answer. */
  latencyMs: number;
  /** From the actual write to the complete answer. */
  serviceMs: number;
  connection: number;
  /** The request opened its connection. */
  newConnection: boolean;
}

export interface SlowWindow {
  startMs: number;
  requests: number;
  worstMs: number;
  /** Requests in the window over the threshold. */
  over: number;
  newConnections: number;
}

/** Parses a timeline file; a malformed line is an error naming its number. */
export function parseTimeline(text: string): TimelineRow[] {
  const rows: TimelineRow[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(/\s+/).map(Number);
    if (f.length !== 5 || f.some((x) => !Number.isFinite(x))) throw new Error(`timeline line ${i + 1}: expected 5 numbers (due_ms latency_ms service_ms connection new_connection), got ${JSON.stringify(line)}`);
    rows.push({ dueMs: f[0]!, latencyMs: f[1]!, serviceMs: f[2]!, connection: f[3]!, newConnection: f[4] === 1 });
  }
  return rows;
}

/** The windows of `windowMs` (by due time) whose worst latency exceeded `overMs`, in time order. */
export function slowWindows(rows: readonly TimelineRow[], windowMs: number, overMs: number): SlowWindow[] {
  const byWindow = new Map<number, SlowWindow>();
  for (const r of rows) {
    const k = Math.floor(r.dueMs / windowMs);
    let w = byWindow.get(k);
    if (w === undefined) {
      w = { startMs: k * windowMs, requests: 0, worstMs: 0, over: 0, newConnections: 0 };
      byWindow.set(k, w);
    }
    w.requests++;
    w.worstMs = Math.max(w.worstMs, r.latencyMs);
    if (r.latencyMs > overMs) w.over++;
    if (r.newConnection) w.newConnections++;
  }
  return [...byWindow.values()].filter((w) => w.worstMs > overMs).sort((a, b) => a.startMs - b.startMs);
}

const USAGE = 'usage: node dist/load-tests/timeline.js <timeline file> [--window-ms 50] [--over-ms 5]';

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'window-ms': { type: 'string', default: '50' }, 'over-ms': { type: 'string', default: '5' }, help: { type: 'boolean' } },
  });
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  const windowMs = Number(values['window-ms']);
  const overMs = Number(values['over-ms']);
  if (positionals.length !== 1 || !(windowMs > 0) || !(overMs >= 0)) throw new Error(`${USAGE} (window-ms > 0, over-ms >= 0)`);
  const rows = parseTimeline(readFileSync(positionals[0]!, 'utf8'));
  if (rows.length === 0) {
    console.log('no recorded requests');
    return;
  }
  const latencies = rows.map((r) => r.latencyMs).sort((a, b) => a - b);
  const over = rows.filter((r) => r.latencyMs > overMs).length;
  console.log(
    `${rows.length} requests: p50 ${percentile(latencies, 0.5).toFixed(2)} ms, p99 ${percentile(latencies, 0.99).toFixed(2)} ms, max ${percentile(latencies, 1).toFixed(2)} ms; ${over} over ${overMs} ms, ${rows.filter((r) => r.newConnection).length} on new connections`,
  );
  const windows = slowWindows(rows, windowMs, overMs);
  console.log(`${windows.length} windows of ${windowMs} ms with a request over ${overMs} ms:`);
  for (const w of windows) {
    console.log(`  ${w.startMs.toFixed(0).padStart(7)} ms  worst ${w.worstMs.toFixed(1).padStart(7)} ms  ${String(w.over).padStart(5)} of ${w.requests} over  ${w.newConnections} new connections`);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    main();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
}
