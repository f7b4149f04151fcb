import { spawn } from 'node:child_process';
import { compiledC } from './c-build.js';
import type { LoadResult, RequestShape } from './load-result.js';
import { loadTestsPath } from './paths.js';

/**
 * Which open-loop generator a fixed-rate run uses: `c` (harness/fixed-rate.c, compiled with gcc on first use:
 * one thread, epoll, a timerfd at each arrival's due time) or `undici` (harness/open-loop.ts: Node, a 1 ms
 * scheduler tick, and it shares the two cores with the systems it measures).
 */
export type OpenLoopClient = 'c' | 'undici';

/** The compiled generator's path (harness/c-build.ts: gcc on first use, once per version of the source). */
export function fixedRateBinary(): string {
  return compiledC(
    loadTestsPath('harness', 'fixed-rate.c'),
    'fixed-rate',
    'the C open-loop generator (load-tests/harness/fixed-rate.c)',
    'or run with --open-client undici',
  );
}

interface FixedRateSummary {
  completed: number;
  errors: number;
  non2xx: number;
  throughput: number;
  latency: LoadResult['latency'];
  serviceLatency: LoadResult['latency'];
  perSecond: number[];
}

/** Parses the generator's one JSON line; throws naming what is missing. */
export function parseFixedRateSummary(out: string): LoadResult {
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`fixed-rate printed no summary: ${out.slice(0, 200)}`);
  const s = JSON.parse(line) as Partial<FixedRateSummary>;
  for (const k of ['completed', 'errors', 'non2xx', 'throughput', 'latency', 'serviceLatency', 'perSecond'] as const) {
    if (s[k] === undefined) throw new Error(`fixed-rate summary has no ${k}: ${line}`);
  }
  const full = s as FixedRateSummary;
  return {
    throughput: full.throughput,
    latency: full.latency,
    serviceLatency: full.serviceLatency,
    completed: full.completed,
    non2xx: full.non2xx,
    errors: full.errors,
    perSecond: full.perSecond,
  };
}

/**
 * Open-loop load at `rate` from the C generator: the same schedule and accounting as runOpenLoop (arrival i due
 * at start + i/rate, latency from that intended time, the first `discardS` seconds sent but not recorded, at most
 * `maxConnections` keep-alive connections and a FIFO behind them) without Node's 1 ms tick or its CPU.
 * `timelinePath`: the generator also writes each recorded request's line there (fixed-rate.c, FIXED_RATE_TIMELINE).
 */
export async function runFixedRate(
  baseUrl: string,
  request: RequestShape,
  rate: number,
  durationS: number,
  maxConnections: number,
  discardS = 1,
  timelinePath?: string,
): Promise<LoadResult> {
  const url = new URL(baseUrl);
  if (url.protocol !== 'http:' || !/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname)) {
    throw new Error(`the C open-loop generator takes http://<IPv4>:<port> URLs, got ${baseUrl}`);
  }
  const contentType = Object.entries(request.headers).find(([k]) => k.toLowerCase() === 'content-type')?.[1];
  const extra = Object.entries(request.headers).filter(([k]) => k.toLowerCase() !== 'content-type');
  if (extra.length > 0 && request.body === undefined) throw new Error(`the C open-loop generator sends headers other than content-type only with a body, not ${extra.map(([k]) => k).join(', ')}`);
  for (const [k, v] of extra) if (/[\r\n]/.test(k + v)) throw new Error(`header ${k} has a CR or LF`);
  const headerLines = extra.map(([k, v]) => `${k}: ${v}\r\n`).join('');
  const args = [
    url.hostname,
    url.port,
    String(rate),
    String(durationS),
    String(discardS),
    String(maxConnections),
    request.method,
    request.path,
    ...(request.body === undefined ? [] : [request.body, contentType ?? 'application/json', ...(headerLines === '' ? [] : [headerLines])]),
  ];
  return parseFixedRateSummary(await run(fixedRateBinary(), args, timelinePath));
}

function run(command: string, args: string[], timelinePath: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['FIXED_RATE_TIMELINE'];
    if (timelinePath !== undefined) env['FIXED_RATE_TIMELINE'] = timelinePath;
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`fixed-rate exited with ${code}: ${err.trim()}`))));
  });
}
