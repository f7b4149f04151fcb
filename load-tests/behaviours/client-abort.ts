import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { openDescriptors } from '../harness/process-stats.js';
import type { RunningSystem } from '../systems/system.js';
import type { RunningUpstreams } from '../upstreams/upstream-pair.js';

export interface AbortCheck {
  /** descriptors of the proxy process before, after one wave and after a second wave of aborts */
  fds: [number, number, number];
  sockets: [number, number, number];
  /** aborted requests the upstream still answered in full: work done for a client that had gone */
  upstreamAnswered: number;
  aborted: number;
  /** the status a plain request gets after the waves (0: no answer) */
  statusAfter: number;
}

const UPSTREAM_DELAY_MS = 300;
const ABORT_AFTER_MS = 50;
const CONCURRENCY = 50;

function abortedRequest(url: string): Promise<void> {
  return new Promise((resolve) => {
    const req = request(`${url}/v1/models/bench?delay_ms=${UPSTREAM_DELAY_MS}`, { agent: false });
    req.once('error', () => resolve());
    req.once('close', () => resolve());
    req.once('response', (res) => res.resume());
    setTimeout(() => req.destroy(), ABORT_AFTER_MS);
    req.end();
  });
}

async function wave(url: string, count: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next += 1;
      await abortedRequest(url);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  // let every delayed upstream answer come due, and the proxy settle
  await sleep(UPSTREAM_DELAY_MS + 1_000);
}

/**
 * Client abort mid-request: `count` requests to a slow upstream, each abandoned by the client after 50 ms,
 * 50 at a time, in two waves. A leak shows as descriptors growing with each wave (pooled keep-alive sockets
 * level off at the concurrency); a proxy that does not propagate the abort lets the upstream answer anyway.
 */
export async function checkClientAbort(
  system: RunningSystem,
  upstreams: RunningUpstreams,
  count: number,
): Promise<AbortCheck | undefined> {
  const pid = system.pid;
  if (pid === undefined) return undefined;
  const before = openDescriptors(pid);
  const [p0, c0] = await upstreams.stats();
  await wave(system.url, count);
  const mid = openDescriptors(pid);
  await wave(system.url, count);
  const after = openDescriptors(pid);
  const [p1, c1] = await upstreams.stats();
  const statusAfter = await new Promise<number>((resolve) => {
    const req = request(`${system.url}/v1/models/bench`, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', () => resolve(0));
    req.end();
  });
  return {
    fds: [before.fds, mid.fds, after.fds],
    sockets: [before.sockets, mid.sockets, after.sockets],
    upstreamAnswered: p1.delayedAnswered - p0.delayedAnswered + (c1.delayedAnswered - c0.delayedAnswered),
    aborted: 2 * count,
    statusAfter,
  };
}
