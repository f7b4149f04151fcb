/**
 * The soak's load: an open loop (arrival i due at start + i/rate, whatever the system does) of KServe v1
 * predict POSTs over node:http keep-alive connections, where every `abortEvery`-th request is abandoned by
 * the client: alternately after the whole request was sent but before the response headers came (the
 * replica is still working on it), and in the middle of sending the request body (the gateway is streaming
 * it to the replica). An aborting client destroys its connection, as a browser or an SDK timing out does.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { LatencyRecorder, percentileOfSorted } from '../harness/stats.js';
import type { Failure } from './soak-verdict.js';

export type RequestPlan = 'complete' | 'abort-before-headers' | 'abort-mid-body';

/** Which request of the run is aborted and how: the abortEvery-th ones, alternating the two kinds. */
export function planOf(i: number, abortEvery: number): RequestPlan {
  if (abortEvery <= 0 || (i + 1) % abortEvery !== 0) return 'complete';
  return Math.floor(i / abortEvery) % 2 === 0 ? 'abort-before-headers' : 'abort-mid-body';
}

export interface AbortLoadOptions {
  /** base URL of the gateway */
  url: string;
  /** a KServe v1 predict path, e.g. /v1/models/soak:predict */
  path: string;
  rate: number;
  durationS: number;
  /** 10 → every tenth request is aborted (10 %) */
  abortEvery: number;
  /** client keep-alive connections at most */
  maxSockets: number;
  /** arrivals beyond this many unanswered requests are counted as skipped, not queued without bound */
  maxOutstanding: number;
  /** a request with no answer after this long is destroyed and counted as 'timeout' */
  timeoutMs: number;
  /** ms since the epoch that is t = 0 (the load's start) for failures and per-second counts */
  origin: number;
  /** a before-headers abort fires 1..abortWindowMs after the request was sent; a mid-body one as long after the first half */
  abortWindowMs: number;
  random?: () => number;
}

export interface SecondCounts {
  ok: number;
  failed: number;
  aborted: number;
}

export interface AbortLoadResult {
  sent: number;
  /** complete requests answered 200 */
  ok: number;
  /** complete requests answered with another status, by status */
  statuses: Record<string, number>;
  /** complete requests that got no (whole) answer, by error */
  transportErrors: Record<string, number>;
  /** every complete request that did not get a 200, with when */
  failures: Failure[];
  abortsPlanned: number;
  abortedBeforeHeaders: number;
  abortedMidBody: number;
  /** aborts planned, but the answer came first (the request completed) */
  answeredFirst: number;
  /** aborts planned, but the request failed before the abort fired, by error */
  failedBeforeAbort: Record<string, number>;
  /** arrivals not sent because maxOutstanding requests were unanswered */
  skipped: number;
  /** of the 200s, counted from the intended send time (no coordinated omission) */
  latencyMs: { p50: number; p99: number; max: number };
  perSecond: SecondCounts[];
}

/** Two iris rows, as a v1 predict call (~60 bytes). */
const COMPLETE_BODY = Buffer.from(JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]] }));
/** 96 rows (~2.3 KB): the mid-body aborts send half of it. */
const LONG_BODY = Buffer.from(
  JSON.stringify({ instances: Array.from({ length: 96 }, (_, i) => [5 + (i % 3), 3.1, 1.5 + (i % 4), 0.2]) }),
);

type Outcome =
  | { kind: 'answered'; status: number }
  | { kind: 'answered-first' }
  | { kind: 'aborted'; plan: RequestPlan }
  | { kind: 'error'; code: string; plan: RequestPlan };

function errCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e.code === 'string') return e.code;
  return typeof e.message === 'string' ? e.message : 'error';
}

export interface RunningAbortLoad {
  /** resolves when every arrival was sent and answered (or gave up), and the client's connections are closed */
  done: Promise<AbortLoadResult>;
  outstanding(): number;
}

export function startAbortLoad(o: AbortLoadOptions): RunningAbortLoad {
  const random = o.random ?? Math.random;
  const target = new URL(o.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.maxSockets });
  const total = Math.round(o.rate * o.durationS);
  const latencies = new LatencyRecorder(total);
  const perSecond: SecondCounts[] = Array.from({ length: Math.ceil(o.durationS) + 60 }, () => ({ ok: 0, failed: 0, aborted: 0 }));
  const result: Omit<AbortLoadResult, 'latencyMs' | 'perSecond'> = {
    sent: 0,
    ok: 0,
    statuses: {},
    transportErrors: {},
    failures: [],
    abortsPlanned: 0,
    abortedBeforeHeaders: 0,
    abortedMidBody: 0,
    answeredFirst: 0,
    failedBeforeAbort: {},
    skipped: 0,
  };
  let outstanding = 0;
  const bucket = (): SecondCounts | undefined => perSecond[Math.floor((Date.now() - o.origin) / 1000)];

  const record = (outcome: Outcome, intended: number): void => {
    const second = bucket();
    switch (outcome.kind) {
      case 'answered':
        if (outcome.status === 200) {
          result.ok += 1;
          latencies.record(performance.now() - intended);
          if (second) second.ok += 1;
          return;
        }
        result.statuses[String(outcome.status)] = (result.statuses[String(outcome.status)] ?? 0) + 1;
        result.failures.push({ t: (Date.now() - o.origin) / 1000, kind: String(outcome.status) });
        if (second) second.failed += 1;
        return;
      case 'answered-first':
        result.answeredFirst += 1;
        return;
      case 'aborted':
        if (outcome.plan === 'abort-mid-body') result.abortedMidBody += 1;
        else result.abortedBeforeHeaders += 1;
        if (second) second.aborted += 1;
        return;
      case 'error':
        if (outcome.plan !== 'complete') {
          result.failedBeforeAbort[outcome.code] = (result.failedBeforeAbort[outcome.code] ?? 0) + 1;
          return;
        }
        result.transportErrors[outcome.code] = (result.transportErrors[outcome.code] ?? 0) + 1;
        result.failures.push({ t: (Date.now() - o.origin) / 1000, kind: outcome.code });
        if (second) second.failed += 1;
    }
  };

  const send = (plan: RequestPlan, intended: number): void => {
    outstanding += 1;
    let settled = false;
    let answered = false;
    let aborting = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      outstanding -= 1;
      record(outcome, intended);
    };
    const gone = (fallback: string): Outcome => (aborting ? { kind: 'aborted', plan } : { kind: 'error', code: fallback, plan });
    const body = plan === 'abort-mid-body' ? LONG_BODY : COMPLETE_BODY;
    const req = http.request({
      agent,
      hostname: target.hostname,
      port: target.port,
      path: o.path,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
    });
    req.setTimeout(o.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.once('response', (res) => {
      answered = true;
      res.on('error', () => undefined); // reported through 'close' below
      res.once('end', () => settle(plan === 'complete' ? { kind: 'answered', status: res.statusCode ?? 0 } : { kind: 'answered-first' }));
      res.once('close', () => {
        if (!res.complete) settle(gone('cut response'));
      });
      res.resume();
    });
    req.once('error', (err) => settle(gone(errCode(err))));
    req.once('close', () => {
      if (!answered) settle(gone('closed unanswered'));
    });
    const abortSoon = (): void => {
      setTimeout(() => {
        if (answered || settled) return;
        aborting = true;
        req.destroy();
      }, 1 + random() * (o.abortWindowMs - 1));
    };
    if (plan === 'complete') req.end(body);
    else if (plan === 'abort-before-headers') req.end(body, abortSoon);
    else req.write(body.subarray(0, body.length >> 1), abortSoon);
  };

  const done = (async (): Promise<AbortLoadResult> => {
    const intervalMs = 1000 / o.rate;
    const start = performance.now();
    let i = 0;
    while (i < total) {
      const now = performance.now();
      while (i < total && start + i * intervalMs <= now) {
        const plan = planOf(i, o.abortEvery);
        if (plan !== 'complete') result.abortsPlanned += 1;
        if (outstanding >= o.maxOutstanding) result.skipped += 1;
        else send(plan, start + i * intervalMs);
        i += 1;
      }
      result.sent = i - result.skipped;
      if (i < total) await sleep(1);
    }
    const giveUpAt = Date.now() + o.timeoutMs + 5_000;
    while (outstanding > 0 && Date.now() < giveUpAt) await sleep(20);
    agent.destroy();
    const sorted = latencies.sorted();
    return {
      ...result,
      latencyMs: { p50: percentileOfSorted(sorted, 0.5), p99: percentileOfSorted(sorted, 0.99), max: percentileOfSorted(sorted, 1) },
      perSecond: perSecond.slice(0, Math.ceil(o.durationS)),
    };
  })();
  return { done, outstanding: () => outstanding };
}
