/**
 * The client side of a burst: N concurrent POSTs with bodies, one connection each, every request tagged with
 * its own id so that an answer can be matched to its request (the demo runtime echoes the id).
 */
import { Agent, request } from 'undici';
import { inferBody } from '../../test/support/data-plane.js';
import { BURST_PATH } from './service.js';

export interface BurstAnswer {
  id: string;
  /** HTTP status; 0 when the request failed without one (connection error, timeout) */
  status: number;
  bodyId: string | undefined;
  /** ms from the burst's start (performance clock) to the answer's body fully read */
  ms: number;
  /** wall-clock time (Date.now()) the body was fully read, comparable with log timestamps */
  doneAt: number;
  error?: string;
}

export interface Burst {
  /** wall-clock time the first request was handed to the client */
  t0: number;
  answers: BurstAnswer[];
}

export interface BurstCheck {
  /** answered 200 with the request's own id */
  ok: number;
  /** requests that did not get their own answer */
  lost: number;
  /** first few failures, for the report */
  failures: string[];
}

/** An agent with one connection per request of the burst (no client-side queueing). */
export function burstAgent(requests: number): Agent {
  return new Agent({ connections: requests + 10, pipelining: 1 });
}

/**
 * Sends `n` requests at once to `url` and waits for every answer. `onAnswer` runs as each one completes (the
 * sampler counts completions with it). Bodies are built before the clock starts.
 */
export async function sendBurst(
  url: string,
  n: number,
  bodyBytes: number,
  tag: string,
  agent: Agent,
  onAnswer: () => void = () => undefined,
): Promise<Burst> {
  const bodies = Array.from({ length: n }, (_, i) => inferBody(`${tag}-${i}`, bodyBytes));
  const t0 = Date.now();
  const start = performance.now();
  const answers = await Promise.all(
    bodies.map(async (body, i): Promise<BurstAnswer> => {
      const id = `${tag}-${i}`;
      try {
        const r = await request(`${url}${BURST_PATH}`, {
          method: 'POST',
          dispatcher: agent,
          headers: { 'content-type': 'application/json' },
          body,
          headersTimeout: 120_000,
          bodyTimeout: 120_000,
        });
        const text = await r.body.text();
        let bodyId: string | undefined;
        try {
          bodyId = (JSON.parse(text) as { id?: string }).id;
        } catch {
          bodyId = undefined;
        }
        return { id, status: r.statusCode, bodyId, ms: performance.now() - start, doneAt: Date.now(), ...(r.statusCode === 200 ? {} : { error: text.slice(0, 200) }) };
      } catch (err) {
        return { id, status: 0, bodyId: undefined, ms: performance.now() - start, doneAt: Date.now(), error: err instanceof Error ? err.message : String(err) };
      } finally {
        onAnswer();
      }
    }),
  );
  return { t0, answers };
}

/** Did every request get exactly its own successful answer? */
export function checkBurst(answers: readonly BurstAnswer[]): BurstCheck {
  const own = new Set<string>();
  const failures: string[] = [];
  for (const a of answers) {
    if (a.status === 200 && a.bodyId === a.id) own.add(a.id);
    else if (failures.length < 5) failures.push(`${a.id}: ${a.status === 0 ? 'no answer' : `HTTP ${a.status}`}${a.error ? ` (${a.error})` : ''}${a.status === 200 ? ` carried id ${a.bodyId}` : ''}`);
  }
  return { ok: own.size, lost: answers.length - own.size, failures };
}
