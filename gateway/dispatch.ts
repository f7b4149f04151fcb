import type { ServerResponse } from 'node:http';
import type { Activator, Lease } from '../activator/activator.js';
import type { Clock } from '../core/clock.js';
import { HttpError, writeError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { DrainState } from './drain.js';
import type { Exchange, ForwardEnds } from './exchange.js';
import { failureOf } from './failure.js';
import { ForwardError, type BufferedAnswer, type Forwarder } from './forwarder.js';
import type { CancelSignal } from '../core/cancel-signal.js';
import type { Priority } from '../activator/priority.js';

/** A request with its body in memory, for `Dispatch.send`: also the activator's AcquireOptions. */
export interface BufferedDispatch {
  revisionKey: string;
  path: string;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** Body size, counted against the hold queue's byte bounds. */
  bytes: number;
  /** Absolute clock time after which it fails with 504 (while held or sent). */
  deadlineAt: number;
  /** Longest wait for the runtime's answer once sent (ms). */
  timeoutMs: number;
  signal: CancelSignal;
  priority?: Priority;
  /**
   * The exchanges this request answers (a batch's callers). Each one's stages see the hold (`onHold`,
   * `onHoldEnd`) and the replica it went to (`ex.endpoint`); the first one's also see every attempt
   * (`onUpstreamHeaders` on that attempt's headers, `onAttemptEnd`), as its own request's would.
   */
  callers?: readonly Exchange[];
}

/** Told once that an admitted request was answered (Dispatch.start): the gateway, which runs the done stages. */
export interface ServeDone {
  served(ex: Exchange): void;
}

export interface DispatchDeps {
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  activator: Activator;
  forwarder: Forwarder;
  /** The gateway's drain: while it drains, every answer closes its connection. */
  drain: DrainState;
  /** Ask the forwarder to call the exchange back (upstream headers, response start): some stage listens. */
  observeForward: boolean;
}

/**
 * The innermost step of an admitted request: acquire a replica (the activator may hold the request), forward,
 * and on a failure that never reached the replica try another one before the deadline; then map what failed to
 * the client's answer. Sets `ex.status`; never throws.
 */
export class Dispatch implements ForwardEnds {
  constructor(private readonly d: DispatchDeps) {}

  /**
   * Serves an admitted request and tells `done` once it was answered (by the replica, or with the error it came
   * to), possibly before returning. Never throws. No promise is made unless the request is held: the exchange is
   * the forward's options and its sink, and the attempt's outcome comes back through `forwarded`/`forwardFailed`.
   */
  start(ex: Exchange, done: ServeDone): void {
    ex.served = done;
    try {
      ex.watchClient();
      ex.bytes = Number(ex.req.headers['content-length'] ?? 0) || 0;
      ex.drain = this.d.drain;
      ex.observer = this.d.observeForward ? ex : undefined;
      ex.forwardsTo = this;
    } catch (err) {
      this.failed(ex, err);
      return;
    }
    this.attempt(ex);
  }

  /** Acquires a replica (held when none has room) and forwards to it. */
  private attempt(ex: Exchange): void {
    let acquired: Lease | Promise<Lease>;
    try {
      acquired = this.d.activator.acquire(ex.rev!.key, ex);
      if (acquired instanceof Promise) ex.held();
    } catch (err) {
      this.failed(ex, err);
      return;
    }
    if (acquired instanceof Promise) {
      acquired.then(
        (lease) => this.forwardOn(ex, lease, true),
        (err: unknown) => {
          try {
            ex.holdEnded(err);
          } catch (e) {
            this.d.logger.error({ err: e }, 'gateway stage failed when a hold ended');
          }
          this.failed(ex, err);
        },
      );
      return;
    }
    this.forwardOn(ex, acquired, false);
  }

  private forwardOn(ex: Exchange, lease: Lease, wasHeld: boolean): void {
    ex.heldMs = lease.heldMs;
    ex.coldStart = lease.coldStart;
    if (lease.coldStart) ex.coldStartMs = lease.heldMs;
    if (wasHeld) {
      try {
        ex.holdEnded();
      } catch (err) {
        lease.release();
        this.failed(ex, err);
        return;
      }
    }
    ex.endpoint = lease.replica.endpoint;
    ex.lease = lease;
    try {
      // A request that came straight here from its arrival needs no clock read: its arrival is now.
      const now = ex.sameRun && !wasHeld ? ex.arrival : this.d.clock.now();
      ex.sameRun = false;
      ex.timeoutMs = Math.max(1, ex.deadlineAt - now);
      this.d.forwarder.forwardTo(lease.replica.endpoint.url, ex.req, ex.res, ex, ex);
    } catch (err) {
      // Thrown before the forwarder told the exchange anything (it tells it once): this attempt failed here.
      if (ex.lease === lease) this.forwardFailed(ex, err);
      else this.d.logger.error({ err }, 'gateway failure after a forward ended');
    }
  }

  /** The attempt's response was sent whole. @internal (Exchange) */
  forwarded(ex: Exchange, status: number): void {
    const lease = ex.lease!;
    ex.lease = null;
    ex.status = status;
    try {
      ex.attemptEnded();
    } catch (err) {
      lease.release();
      this.failed(ex, err);
      return;
    }
    lease.release();
    this.finish(ex);
  }

  /**
   * The attempt failed: on a failure that never reached the replica, another one is tried before the deadline;
   * otherwise the client gets the error's answer. @internal (Exchange)
   */
  forwardFailed(ex: Exchange, err: unknown): void {
    const lease = ex.lease!;
    ex.lease = null;
    let answer: unknown = err;
    try {
      ex.attemptEnded(err);
      const rev = ex.rev!;
      // Only a replica no connection could be made to leaves the rotation (a reset or broken pipe proves nothing).
      if (err instanceof ForwardError && err.unreachable) this.d.activator.reportFailure(rev.key, lease.replica.endpoint.id);
      if (err instanceof ForwardError && err.retryable && this.d.clock.now() < ex.deadlineAt) {
        this.d.logger.warn({ revision: rev.key, replica: lease.replica.endpoint.id, code: err.code }, 'retrying on another replica');
        lease.release();
        this.attempt(ex);
        return;
      }
      if (err instanceof ForwardError && err.status === 502)
        answer = new ForwardError(502, false, err.code, `replica ${lease.replica.endpoint.id}: ${err.message}`);
    } catch (e) {
      answer = e;
    }
    lease.release();
    this.failed(ex, answer);
  }

  /** The request failed with `err`: the client gets its answer. */
  private failed(ex: Exchange, err: unknown): void {
    ex.failure = failureOf(err);
    try {
      ex.status = this.answerError(ex.res, err);
    } catch (e) {
      this.d.logger.error({ err: e }, 'gateway failure while answering an error');
    }
    this.finish(ex);
  }

  private finish(ex: Exchange): void {
    ex.unwatchClient();
    const done = ex.served!;
    ex.served = null;
    done.served(ex);
  }

  /**
   * The batcher's way to the runtime (the one seam for a stage that answers its callers itself): one request whose
   * body is in memory, through the same activator (held while the revision scales from zero, breakers, hold-queue
   * bounds) and the same retry on a replica that could not be reached. Rejects with HttpError or ForwardError.
   */
  async send(r: BufferedDispatch): Promise<BufferedAnswer & { heldMs: number; coldStart: boolean }> {
    const { clock, activator, forwarder } = this.d;
    const callers = r.callers ?? [];
    const first = callers[0];
    for (;;) {
      const acquired = activator.acquire(r.revisionKey, r);
      let lease: Lease;
      if (acquired instanceof Promise) {
        for (const ex of callers) ex.held();
        try {
          lease = await acquired;
        } catch (err) {
          for (const ex of callers) ex.holdEnded(err);
          throw err;
        }
        for (const ex of callers) {
          ex.heldMs = lease.heldMs;
          ex.coldStart = lease.coldStart;
          ex.holdEnded();
        }
      } else lease = acquired;
      for (const ex of callers) ex.endpoint = lease.replica.endpoint;
      // Each attempt's headers are a copy: a stage's injection (trace context) is the attempt's own.
      const headers = first ? { ...r.headers } : r.headers;
      first?.upstreamHeaders(headers);
      try {
        const answer = await forwarder.request(lease.replica.endpoint.url, {
          path: r.path,
          headers,
          body: r.body,
          timeoutMs: Math.max(1, Math.min(r.deadlineAt - clock.now(), r.timeoutMs)),
          signal: r.signal,
        });
        if (first) {
          first.status = answer.status;
          first.attemptEnded();
        }
        return { ...answer, heldMs: lease.heldMs, coldStart: lease.coldStart };
      } catch (err) {
        first?.attemptEnded(err);
        if (err instanceof ForwardError && err.unreachable) activator.reportFailure(r.revisionKey, lease.replica.endpoint.id);
        if (err instanceof ForwardError && err.retryable && clock.now() < r.deadlineAt) continue;
        if (err instanceof ForwardError && err.status === 502)
          throw new ForwardError(502, false, err.code, `replica ${lease.replica.endpoint.id}: ${err.message}`);
        throw err;
      } finally {
        lease.release();
      }
    }
  }

  /** The gateway drains: every answer closes its connection. */
  get draining(): boolean {
    return this.d.drain.draining;
  }

  /** Replicas of a revision in rotation now. */
  activeReplicas(revisionKey: string): number {
    return this.d.activator.activeReplicas(revisionKey);
  }

  /**
   * The client's answer to a failure, written by the one error writer; returns the status sent. A client that
   * went away (499) gets nothing: its connection is closed. A client that stopped sending its body (408) loses
   * its connection after the answer. Anything unexpected is a logged 500.
   */
  answerError(res: ServerResponse, err: unknown): number {
    if (this.d.drain.draining) res.shouldKeepAlive = false;
    if (err instanceof ForwardError && err.status === 413) res.shouldKeepAlive = false;
    if (err instanceof ForwardError && err.status === 408) {
      // What is left of the body is unknown, so the connection cannot be reused.
      res.shouldKeepAlive = false;
      this.d.metrics.clientTimeoutsTotal.inc({ kind: 'body' });
    }
    if (err instanceof HttpError || err instanceof ForwardError) {
      if (err.status === 499) {
        res.destroy();
        return 499;
      }
      writeError(res, err.status, err.message, err instanceof HttpError ? err.headers : {});
      return err.status;
    }
    this.d.logger.error({ err }, 'gateway failure');
    writeError(res, 500, 'internal gateway error');
    return 500;
  }
}
