import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** What the client saw: an HTTP status, or a transport error (reset, hang up) with its code. */
export interface Outcome {
  status?: number;
  error?: string;
  elapsedMs: number;
}

export interface FailureCheck {
  timeout: Outcome;
  reset: Outcome;
  /** a client can tell an upstream timeout from an upstream failure: 504 versus another answer */
  distinguishable: boolean;
}

function outcomeOf(url: string): Promise<Outcome> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request(url, { agent: false }, (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, elapsedMs: performance.now() - started }));
    });
    req.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ error: err.code ?? err.message, elapsedMs: performance.now() - started }),
    );
    req.setTimeout(10_000, () => req.destroy(new Error('client gave up after 10 s')));
    req.end();
  });
}

/**
 * Upstream timeout versus upstream reset, on a system started with a short upstream timeout: the timeout
 * request asks the upstream to wait `delayMs` (past the system's timeout); the reset request makes the
 * upstream drop the connection unanswered.
 */
export async function checkUpstreamFailures(url: string, delayMs: number): Promise<FailureCheck> {
  const timeout = await outcomeOf(`${url}/v1/models/bench?delay_ms=${delayMs}`);
  const reset = await outcomeOf(`${url}/v1/models/bench?reset=1`);
  return {
    timeout,
    reset,
    distinguishable: timeout.status === 504 && reset.status !== undefined && reset.status !== 504,
  };
}

export function describeOutcome(o: Outcome): string {
  return `${o.status !== undefined ? String(o.status) : `no answer (${o.error ?? 'error'})`} after ${o.elapsedMs.toFixed(0)} ms`;
}
