import type { Clock, TimerHandle } from '../core/clock.js';
import { HttpError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import type { EndpointEvent } from '../deploy/backends/backend.js';
import { HoldQueue, type QueueNode } from './hold-queue.js';
import { ReplicaSet, type Replica } from './replica-set.js';

/** Bounds of the hold queues; every one is configurable (see core/config.ts). */
export interface HoldLimits {
  maxHeldPerRevision: number;
  maxHeldTotal: number;
  maxHeldBytesPerRevision: number;
  maxHeldBytesTotal: number;
  /** Seconds a client is told to wait in Retry-After when a bound refuses it. */
  retryAfterSeconds: number;
}

/** A slot on a replica, held for the duration of one forwarded request. */
export interface Lease {
  readonly replica: Replica;
  /** Milliseconds the request waited in the hold queue (0 when it went straight through). */
  readonly heldMs: number;
  /** True when the request waited for a revision that had no ready replica. */
  readonly coldStart: boolean;
  release(): void;
}

export interface AcquireOptions {
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
  /** Absolute time (clock ms) after which the request fails with 504. */
  deadlineAt: number;
  /** Declared body size (content-length), counted against the byte bounds while held. */
  bytes: number;
}

interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
  enqueuedAt: number;
  coldStart: boolean;
  bytes: number;
  timer: TimerHandle;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

interface RevisionState {
  key: string;
  labels: { namespace: string; service: string; revision: string };
  replicas: ReplicaSet;
  queue: HoldQueue<Waiter>;
  nodes: Map<Waiter, QueueNode<Waiter>>;
  heldBytes: number;
  lastPokeAt: number;
}

export interface ActivatorOptions {
  clock: Clock;
  metrics: SluiceMetrics;
  logger: Logger;
  limits: HoldLimits;
  /** Wakes the autoscaler for a revision (first held request, at most every pokeIntervalMs). */
  poke: (revisionKey: string) => void;
  pokeIntervalMs?: number;
  random?: () => number;
}

/**
 * Dispatch for every revision: a replica with spare capacity when there is one, otherwise a bounded FIFO hold
 * queue with a deadline, released as replicas become ready or free up. The gateway uses it for every request,
 * so entering and leaving the activator's path never drops or duplicates one.
 */
export class Activator {
  private readonly opts: ActivatorOptions;
  private readonly revisions = new Map<string, RevisionState>();
  private heldTotal = 0;
  private heldBytesTotal = 0;

  constructor(opts: ActivatorOptions) {
    this.opts = opts;
  }

  /** Makes a revision known (idempotent). */
  addRevision(key: string, labels: { namespace: string; service: string; revision: string }): void {
    if (this.revisions.has(key)) return;
    this.revisions.set(key, {
      key,
      labels,
      replicas: new ReplicaSet(this.opts.random),
      queue: new HoldQueue(),
      nodes: new Map(),
      heldBytes: 0,
      lastPokeAt: -Infinity,
    });
  }

  /** Forgets a revision; requests still held for it get 503. */
  removeRevision(key: string): void {
    const st = this.revisions.get(key);
    if (!st) return;
    for (const w of [...st.queue]) this.fail(st, w, new HttpError(503, `revision ${st.labels.revision} was removed`));
    this.revisions.delete(key);
  }

  onEndpointEvent(ev: EndpointEvent): void {
    const st = this.revisions.get(ev.endpoint.revisionKey);
    if (!st) return;
    if (ev.type === 'ready') {
      st.replicas.upsert(ev.endpoint);
      this.release(st);
    } else if (ev.type === 'draining') {
      st.replicas.drain(ev.endpoint.id);
    } else {
      st.replicas.remove(ev.endpoint.id);
      this.opts.metrics.replicaInflight.remove({ revision: st.labels.revision, replica: ev.endpoint.id });
    }
  }

  /** Takes a replica out of rotation after a failed connection, until the backend reports it ready again. */
  reportFailure(revisionKey: string, endpointId: string): void {
    this.revisions.get(revisionKey)?.replicas.markFailed(endpointId);
  }

  held(revisionKey: string): number {
    return this.revisions.get(revisionKey)?.queue.length ?? 0;
  }

  activeReplicas(revisionKey: string): number {
    return this.revisions.get(revisionKey)?.replicas.active ?? 0;
  }

  /**
   * A slot on a replica of the revision: at once when one has room and nobody waits ahead, else after waiting
   * in the hold queue. Throws/rejects HttpError 503 over a bound, 504 past the deadline, 499 when the client left.
   */
  acquire(revisionKey: string, o: AcquireOptions): Lease | Promise<Lease> {
    const st = this.revisions.get(revisionKey);
    if (!st) throw new HttpError(503, `revision ${revisionKey} is not available`);
    if (st.queue.length === 0) {
      const r = st.replicas.acquire();
      if (r) return this.lease(st, r, 0, false);
    }
    return this.hold(st, o);
  }

  private hold(st: RevisionState, o: AcquireOptions): Promise<Lease> {
    const l = this.opts.limits;
    const m = this.opts.metrics;
    const retry = { 'retry-after': String(l.retryAfterSeconds) };
    const refuse = (reason: string, msg: string): never => {
      m.rejectedTotal.inc({ reason });
      throw new HttpError(503, msg, retry);
    };
    if (st.queue.length >= l.maxHeldPerRevision)
      refuse('revision_queue_full', `too many requests held for revision ${st.labels.revision} (limit maxHeldPerRevision=${l.maxHeldPerRevision})`);
    if (this.heldTotal >= l.maxHeldTotal)
      refuse('total_queue_full', `too many requests held in total (limit maxHeldTotal=${l.maxHeldTotal})`);
    if (st.heldBytes + o.bytes > l.maxHeldBytesPerRevision)
      refuse('revision_bytes_full', `held request bodies for revision ${st.labels.revision} exceed maxHeldBytesPerRevision=${l.maxHeldBytesPerRevision}`);
    if (this.heldBytesTotal + o.bytes > l.maxHeldBytesTotal)
      refuse('total_bytes_full', `held request bodies exceed maxHeldBytesTotal=${l.maxHeldBytesTotal}`);
    if (o.signal?.aborted) {
      m.rejectedTotal.inc({ reason: 'client_gone' });
      throw new HttpError(499, 'client closed the request');
    }
    const now = this.opts.clock.now();
    const coldStart = st.replicas.active === 0;
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: now,
        coldStart,
        bytes: o.bytes,
        signal: o.signal,
        onAbort: () => {
          m.rejectedTotal.inc({ reason: 'client_gone' });
          this.fail(st, waiter, new HttpError(499, 'client closed the request'));
        },
        timer: this.opts.clock.setTimeout(() => {
          m.rejectedTotal.inc({ reason: 'deadline' });
          this.fail(
            st,
            waiter,
            new HttpError(504, `no replica of revision ${st.labels.revision} became available within the request timeout`),
          );
        }, Math.max(0, o.deadlineAt - now)),
      };
      o.signal?.addEventListener('abort', waiter.onAbort, { once: true });
      st.nodes.set(waiter, st.queue.push(waiter));
      st.heldBytes += o.bytes;
      this.heldTotal++;
      this.heldBytesTotal += o.bytes;
      m.heldRequests.set(st.labels, st.queue.length);
      m.heldBytes.set(st.labels, st.heldBytes);
      const pokeEvery = this.opts.pokeIntervalMs ?? 1000;
      if (now - st.lastPokeAt >= pokeEvery || (coldStart && st.queue.length === 1)) {
        st.lastPokeAt = now;
        this.opts.poke(st.key);
      }
      // A replica may have room while requests wait (e.g. after a release raced with this enqueue).
      this.release(st);
    });
  }

  /** Hands free slots to held requests, oldest first. */
  private release(st: RevisionState): void {
    while (st.queue.length > 0) {
      const r = st.replicas.acquire();
      if (!r) return;
      const w = st.queue.peek()!;
      this.dequeue(st, w);
      const heldMs = this.opts.clock.now() - w.enqueuedAt;
      this.opts.metrics.holdSeconds.observe(st.labels, heldMs / 1000);
      w.resolve(this.lease(st, r, heldMs, w.coldStart));
    }
  }

  private fail(st: RevisionState, w: Waiter, err: Error): void {
    if (!st.nodes.has(w)) return;
    this.dequeue(st, w);
    w.reject(err);
  }

  private dequeue(st: RevisionState, w: Waiter): void {
    const node = st.nodes.get(w);
    if (!node) return;
    st.queue.remove(node);
    st.nodes.delete(w);
    this.opts.clock.clearTimeout(w.timer);
    w.signal?.removeEventListener('abort', w.onAbort);
    st.heldBytes -= w.bytes;
    this.heldTotal--;
    this.heldBytesTotal -= w.bytes;
    this.opts.metrics.heldRequests.set(st.labels, st.queue.length);
    this.opts.metrics.heldBytes.set(st.labels, st.heldBytes);
  }

  private lease(st: RevisionState, r: Replica, heldMs: number, coldStart: boolean): Lease {
    const gauge = this.opts.metrics.replicaInflight;
    const labels = { revision: st.labels.revision, replica: r.endpoint.id };
    gauge.set(labels, r.breaker.inflight);
    let released = false;
    return {
      replica: r,
      heldMs,
      coldStart,
      release: () => {
        if (released) return;
        released = true;
        r.breaker.release();
        gauge.set(labels, r.breaker.inflight);
        this.release(st);
      },
    };
  }
}
