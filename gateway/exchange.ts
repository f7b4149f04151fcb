import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Endpoint } from '../api/backend.js';
import type { Priority } from '../activator/priority.js';
import { ClientGone } from './client-gone.js';
import { DataResponse } from './http1/data-response.js';
import type { RevisionView } from './data-plane.js';
import type { PassedHead, UpstreamDrop } from './forward-headers.js';
import type { Lease } from '../activator/activator.js';
import type { ServeDone } from './dispatch.js';
import type { DrainState } from './drain.js';
import type { ForwardObserver, ForwardOptions, ForwardSink } from './forwarder.js';
import type { Pipeline } from './pipeline.js';
import type { RouteMatch } from './route-table.js';
import type { HeaderBag } from './stage.js';

/**
 * A request the gateway failed or a stage refused. `kind` is a stable word for dashboards and log consumers:
 * `refused` (a stage), `aborted` (the client went away), `hold_timeout`, `unavailable`, `too_large`,
 * `upstream_timeout`, `upstream_unreachable`, `upstream_failed`, `response_cut`, `client_body_timeout`, `internal`.
 */
export interface Failure {
  kind: string;
  message: string;
}

/** Where an exchange's forward attempts end (the dispatch): `Exchange` passes its ForwardSink calls on. */
export interface ForwardEnds {
  forwarded(ex: Exchange, status: number): void;
  forwardFailed(ex: Exchange, err: unknown): void;
}

/** Names a value a stage attaches to an exchange, and its type: `new AttributeKey<Principal>('principal')`. */
export class AttributeKey<T> {
  /** Type only: carries `T`, never set. */
  declare readonly valueType?: T;
  constructor(readonly name: string) {}
}

/**
 * One request on its way through the gateway: what the stages and the dispatch read and write. Made once per
 * request, in place of the locals and option objects a request used to allocate: it is also what is handed to
 * the activator (as its AcquireOptions) and to the forwarder (as its ForwardObserver).
 *
 * Times come from the one injected clock: `arrival` is `clock.now()` (deadlines count from it, in the domain the
 * activator's timers use) and `startedAt` is `clock.monotonic()` (durations count from it).
 */
export class Exchange implements ForwardObserver, ForwardOptions, ForwardSink {
  /** The client went away: tells the hold queue and the forwarder. */
  readonly signal = new ClientGone();
  /** The route found for the request, once routed. */
  match: RouteMatch | null = null;
  /** The revision picked, once routed. */
  rev: RevisionView | null = null;
  /** Path and query sent upstream (the `/serving/<ns>/<name>` prefix removed, the model name rewritten). */
  path = '';
  /** Absolute time (clock ms) after which the request fails with 504. */
  deadlineAt = 0;
  /** Declared body size (content-length), counted against the hold queue's byte bounds. */
  bytes = 0;
  /** Class while held; a stage sets it (default interactive). */
  priority: Priority = 'interactive';
  /** Every stage let the request through: it is demand for its revision (counted, may be held or wake it). */
  admitted = false;
  /** HTTP status sent to the client (0 while nothing was sent, or when the client went away first: 499). */
  status = 0;
  /** The replica currently forwarded to was acquired after the request waited for a revision without one. */
  coldStart = false;
  /** Milliseconds the request waited for a cold revision (0 unless some attempt was a cold start). */
  coldStartMs = 0;
  /** Milliseconds the last attempt waited in the activator's hold queue (0 when it went straight through). */
  heldMs = 0;
  /** The replica of the current (or last) forward attempt. */
  endpoint: Endpoint | null = null;
  /** The request came to the internal listener (cluster-local services are served only there). */
  internal = false;
  /**
   * Still in the synchronous run that began at its arrival (no stage's promise awaited, not held, no attempt
   * made yet): `arrival` is the time now, to within that run's microseconds, and is used instead of another
   * clock read. Cleared by whatever moves the request past that run (Gateway.continueAfter, the first forward
   * attempt, the gRPC gateway's promise-based way).
   */
  sameRun = true;
  /** Largest request body, counted while it streams (0: none); set by the body-limit stage. */
  maxBodyBytes = 0;
  /** The setting or annotation `maxBodyBytes` comes from, for the 413's message. */
  maxBodyBytesSetting = '';
  /**
   * `grpc` for a gRPC call (HTTP/2): then `req` carries the call's headers, method, `url` (the `:path`) and
   * socket only, `res` must not be written (stages answer through the hooks), and `status` is the gRPC status
   * as HTTP counts it (gateway/grpc/grpc-wire.ts `httpStatusOf`).
   */
  protocol: 'http' | 'grpc' = 'http';
  /** A stage wants this request's bodies (its `onRequestBody` / `onResponseBody` hooks): set before the forward. */
  teeBody = false;
  /** Why the gateway answered in place of the replica (or cut the answer): set with the error status it sent. */
  failure: Failure | null = null;
  /** Client headers a stage keeps from the replica (credentials), set before the forward (forward-headers.ts). */
  upstreamDrop: UpstreamDrop | null = null;
  /**
   * What stages attached (`set`), as key, value, key, value…: a handful at most (one slot per AttributeKey the
   * code declares), so a scan is cheaper than a Map, which costs two allocations on every request that sets one.
   */
  private attributes: unknown[] | null = null;
  private onClose: (() => void) | null = null;

  // The forward's options (ForwardOptions): the exchange is what the dispatch hands the forwarder, so a request
  // makes no options object of its own. Set by Dispatch.start.
  /** Longest wait for the replica's answer on this attempt (ms). */
  timeoutMs = 0;
  drain: DrainState | undefined = undefined;
  observer: ForwardObserver | undefined = undefined;
  /** A small body read whole by an earlier attempt (the forwarder sets it; a retry sends it again). */
  wholeBody: Buffer | undefined = undefined;
  bodyLooked = false;
  /** The replica slot of the attempt under way (Dispatch). */
  lease: Lease | null = null;
  /** Told how each forward attempt ended (the dispatch serving this exchange). */
  forwardsTo: ForwardEnds | null = null;
  /** Told once the dispatch answered the request (Dispatch.start). */
  served: ServeDone | null = null;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** `clock.now()` when the request arrived. */
    readonly arrival: number,
    /** `clock.monotonic()` when the request arrived. */
    readonly startedAt: number,
    private readonly pipeline: Pipeline,
  ) {}

  get<T>(key: AttributeKey<T>): T | undefined {
    const a = this.attributes;
    if (a === null) return undefined;
    for (let i = 0; i < a.length; i += 2) if (a[i] === key) return a[i + 1] as T;
    return undefined;
  }

  set<T>(key: AttributeKey<T>, value: T): void {
    const a = this.attributes;
    if (a === null) {
      this.attributes = [key, value];
      return;
    }
    for (let i = 0; i < a.length; i += 2)
      if (a[i] === key) {
        a[i + 1] = value;
        return;
      }
    a.push(key, value);
  }

  /** From now until `unwatchClient`, a response closed before it finished aborts `signal`. */
  watchClient(): void {
    const res = this.res as ServerResponse | DataResponse;
    if (res instanceof DataResponse) {
      res.clientGone = this.signal;
      return;
    }
    this.onClose = () => {
      if (!this.res.writableFinished) this.signal.abort();
    };
    this.res.on('close', this.onClose);
  }

  unwatchClient(): void {
    const res = this.res as ServerResponse | DataResponse;
    if (res instanceof DataResponse) {
      if (res.clientGone === this.signal) res.clientGone = null;
      return;
    }
    if (this.onClose) this.res.off('close', this.onClose);
    this.onClose = null;
  }

  upstreamHeaders(headers: HeaderBag): void {
    this.pipeline.upstreamHeaders(this, headers);
  }

  wantsUpstreamHeaders(): boolean {
    return this.pipeline.wantsUpstreamHeaders(this);
  }

  wantsResponseStart(): boolean {
    return this.pipeline.wantsResponseStart(this);
  }

  responseHead(head: PassedHead): void {
    this.pipeline.responseHead(this, head);
  }

  responseStart(status: number, headers: HeaderBag): void {
    this.pipeline.responseStart(this, status, headers);
  }

  /** The activator holds this request (stages' `onHold`). */
  held(): void {
    this.pipeline.held(this);
  }

  /** The hold ended: a replica was acquired, or `err` (stages' `onHoldEnd`). */
  holdEnded(err?: unknown): void {
    this.pipeline.holdEnded(this, err);
  }

  /** A forward attempt ended: answered, or `err` (stages' `onAttemptEnd`). */
  attemptEnded(err?: unknown): void {
    this.pipeline.attemptEnded(this, err);
  }

  forwarded(status: number): void {
    this.forwardsTo!.forwarded(this, status);
  }

  forwardFailed(err: unknown): void {
    this.forwardsTo!.forwardFailed(this, err);
  }

  requestData(chunk: Buffer): void {
    this.pipeline.requestBody(this, chunk);
  }

  responseData(chunk: Buffer): void {
    this.pipeline.responseBody(this, chunk);
  }
}
