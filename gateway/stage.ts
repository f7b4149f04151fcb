import type { Dispatch } from './dispatch.js';
import type { Exchange } from './exchange.js';
import type { PassedHead } from './forward-headers.js';

/** A stage's answer in place of the runtime's: written by the one error writer (`{"error": message}`). */
export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
  /** Answer with `status` and `headers` only, no body (a CORS preflight's 204); `message` is unused. */
  empty?: boolean;
}

/** What an arrival or routed hook returns: nothing to let the request through, or a Refusal. */
export type Admission = Refusal | undefined | void;

/** Headers as the forwarder sends them upstream or to the client; a hook may add or replace entries. */
export type HeaderBag = Record<string, string | string[]>;

/**
 * One request concern (limits, auth, accounting, tracing, …), as hooks on the request's way. Every hook is
 * optional; the pipeline calls only the hooks a stage has, in the order the stages were composed, at these points:
 *
 * 1. `onArrival`: before routing (no route, no revision yet). May refuse.
 * 2. `onRouted`: after the route and the revision were picked. May refuse.
 * 3. `onAdmitted`: every stage let the request through; from here it is demand for the revision (counted,
 *    held, may wake the revision). Cannot refuse.
 * 3½. `onDispatch`: after `onAdmitted`, a stage may take the request over (see below).
 * - `onHold` / `onHoldEnd`: the activator holds the request (no replica with room), and the hold ended: a replica
 *   was acquired (`ex.heldMs`, `ex.coldStart` set) or it failed with `err` (504 past the deadline, 499, 503).
 * 4. `onUpstreamHeaders`: before each forward to a replica (`ex.endpoint`), with the headers about to be sent
 *    (a stage that acts on some exchanges only says which with `wantsUpstreamHeaders`).
 * 5. `onResponseStart`: when the replica's response begins, with the headers about to be sent to the client.
 *    A stage that acts on some exchanges only says which with `wantsResponseStart`: when no stage wants an
 *    exchange's response start, the replica's head is passed on as it came (less work per request), and no
 *    `onResponseStart` runs for it; `onResponseHead` runs instead, where a stage may read that head and add fields.
 * - `onAttemptEnd`: each forward ended: the response was sent (no `err`), or it failed with `err` (a
 *   ForwardError); a retry on another replica may follow.
 * 6. `onDone`: once per request, whatever happened (refused, unrouted, answered, failed), after the answer.
 *
 * Body tee (only for an exchange a stage marked with `ex.teeBody = true`, e.g. in `onAdmitted`): `onRequestBody`
 * sees each chunk of the request body as it is passed to the replica, `onResponseBody` each chunk of the replica's
 * response as it is written to the client. Read-only, synchronous and never on the client's path of bytes: a stage
 * that keeps a chunk keeps a reference (or a copy), it never delays or changes it.
 *
 * A refused request never reaches `onAdmitted`, so it never wakes a revision at zero and is not demand.
 * Hooks 3-6 (and the hold, attempt and body hooks) are synchronous; 1-2 may return a promise (a stage that must look
 * something up).
 */
export interface Stage {
  readonly name: string;
  onArrival?(ex: Exchange): Admission | Promise<Admission>;
  onRouted?(ex: Exchange): Admission | Promise<Admission>;
  onAdmitted?(ex: Exchange): void;
  onHold?(ex: Exchange): void;
  onHoldEnd?(ex: Exchange, err?: unknown): void;
  onUpstreamHeaders?(ex: Exchange, headers: HeaderBag): void;
  /**
   * Whether `onUpstreamHeaders` has anything to do for `ex` (read before each forward). Without it, a stage with
   * `onUpstreamHeaders` wants every exchange's. When no stage wants them, a request from Sluice's own data port goes
   * on with its fields written straight from the client's (less work per request). Cheap, without side effects.
   */
  wantsUpstreamHeaders?(ex: Exchange): boolean;
  onResponseStart?(ex: Exchange, status: number, headers: HeaderBag): void;
  /**
   * Whether `onResponseStart` has anything to do for `ex` (read when the replica's response begins). Without it, a
   * stage with `onResponseStart` wants every exchange's. It must be cheap and without side effects.
   */
  wantsResponseStart?(ex: Exchange): boolean;
  /**
   * When no stage wants the response start and the replica's head goes on as it came (Sluice's own data port):
   * `head` reads its fields and adds fields after them (names that are HTTP tokens, values without control
   * characters: they are not checked again); the replica's cannot be changed or removed. A stage with this hook
   * still needs `onResponseStart` for the other path.
   */
  onResponseHead?(ex: Exchange, head: PassedHead): void;
  onAttemptEnd?(ex: Exchange, err?: unknown): void;
  onRequestBody?(ex: Exchange, chunk: Buffer): void;
  onResponseBody?(ex: Exchange, chunk: Buffer): void;
  onDone?(ex: Exchange): void;
  /**
   * Between `onAdmitted` and the dispatch: a stage may take the request over and answer it itself (the batcher,
   * the only stage that buffers bodies), returning the promise of its answer (it sets `ex.status` and writes
   * `ex.res`); it reaches the runtime through `dispatch.send`. Returning undefined lets the request go on to the
   * normal, streamed dispatch. The first stage that takes it wins.
   */
  onDispatch?(ex: Exchange, dispatch: Dispatch): Promise<void> | undefined;
}
