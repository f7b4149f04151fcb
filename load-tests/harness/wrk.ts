import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureInstalled } from '../baselines/install.js';
import type { LoadResult, RequestShape } from './load-result.js';

/**
 * Closed-loop load with wrk (Debian's package): a C generator with one thread, so the client takes far less of the
 * machine's two cores than a Node generator does and flatters no system. The request (method, headers, body) is
 * set by a Lua script; its `done()` prints one JSON line with the totals and latency percentiles, which we parse.
 *
 * wrk reports no per-second counts, so `perSecond` is empty: the time-series chart is drawn for `--client
 * autocannon` runs only.
 */
export async function runWrk(
  baseUrl: string,
  request: RequestShape,
  connections: number,
  durationS: number,
  threads = 1,
): Promise<LoadResult> {
  const missing = ensureInstalled('wrk');
  if (missing) throw new Error(`the closed-loop client is wrk: ${missing} (or run with --client autocannon)`);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-wrk-'));
  try {
    const script = join(dir, 'request.lua');
    writeFileSync(script, luaScript(request));
    const seconds = Math.max(1, Math.round(durationS));
    const out = await run('wrk', [
      `-t${Math.min(threads, connections)}`,
      `-c${connections}`,
      `-d${seconds}s`,
      '--timeout',
      '10s',
      '-s',
      script,
      baseUrl + request.path,
    ]);
    return parseWrkSummary(out, seconds);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const MARK = 'SLUICE_WRK_JSON ';

function luaString(s: string): string {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for the characters we send
}

function luaScript(request: RequestShape): string {
  const lines = [`wrk.method = ${luaString(request.method)}`];
  for (const [name, value] of Object.entries(request.headers)) lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`);
  if (request.body !== undefined) lines.push(`wrk.body = ${luaString(request.body)}`);
  lines.push(
    'function done(summary, latency, requests)',
    '  local e = summary.errors',
    `  io.write(string.format('${MARK}{"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n',`,
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))',
    'end',
  );
  return `${lines.join('\n')}\n`;
}

interface WrkSummary {
  requests: number;
  durationUs: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Turns the script's JSON line into a LoadResult (latencies from µs to ms). Exported for its test. */
export function parseWrkSummary(stdout: string, durationS: number): LoadResult {
  const line = stdout.split('\n').find((l) => l.startsWith(MARK));
  if (!line) throw new Error(`wrk printed no summary line; its output was:\n${stdout}`);
  const s = JSON.parse(line.slice(MARK.length)) as WrkSummary;
  const ms = (us: number): number => us / 1000;
  const seconds = s.durationUs > 0 ? s.durationUs / 1e6 : durationS;
  return {
    throughput: s.requests / seconds,
    latency: { p50: ms(s.p50), p90: ms(s.p90), p99: ms(s.p99), max: ms(s.max) },
    completed: s.requests,
    non2xx: s.status,
    errors: s.connect + s.read + s.write + s.timeout,
    perSecond: [],
  };
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err || out}`)),
    );
  });
}
