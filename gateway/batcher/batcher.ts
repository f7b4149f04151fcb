/**
 * Request batching for revisions with `spec.predictor.batcher` (docs/batching.md): the one stage that buffers
 * request bodies. It takes an admitted v1 `:predict` or v2 `/infer` request over (`onDispatch`), reads its body,
 * and merges it with compatible requests into one request sent through the same activator and breakers as any
 * request (`Dispatch.send`); then it cuts the runtime's answer back into one answer per caller.
 *
 * When a batch leaves (Triton's dynamic batcher, not KServe's fixed timer):
 * - at once, with whatever is pending, when a batch slot is free: fewer batches of this revision in flight than
 *   its ready replicas × containerConcurrency (1 when unbounded; with no replica ready, one batch goes at once to
 *   be held by the activator and wake the revision);
 * - otherwise when it reaches `maxBatchSize` rows, when a slot frees, or `maxLatency` after its first request.
 *
 * Errors are the runtime's: an answer ≥ 400 goes to every caller of the batch with the runtime's status, headers
 * and body (optionally, `batchSplitOnError`, the batch is split in halves and retried first, so one bad request
 * fails alone). A caller that leaves before its batch is sent is taken out of it; after, its slice is dropped.
 * Every caller keeps its own deadline (504 when it passes). Requests that cannot be merged (protocols.ts) are
 * sent alone, their bytes untouched.
 */
import { Counter, Histogram } from 'prom-client';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { HttpError, writeError } from '../../core/errors.js';
import type { SluiceMetrics } from '../../core/metrics.js';
import { ClientGone } from '../client-gone.js';
import type { RevisionView } from '../data-plane.js';
import type { Dispatch } from '../dispatch.js';
import type { Exchange } from '../exchange.js';
import { upstreamRequestHeaders } from '../forward-headers.js';
import type { BufferedAnswer } from '../forwarder.js';
import type { Stage } from '../stage.js';
import { mergeBodies, protocolOf, readPart, splitAnswer, Unsplittable, type AloneReason, type Part } from './protocols.js';

export interface BatcherOptions {
  clock: Clock;
  metrics: SluiceMetrics;
  /** Largest request body the batcher reads to merge (content-length); a larger one is forwarded alone, streamed. */
  maxBodyBytes: number;
  /** Split a failed batch in halves and retry them, so one bad request fails alone. */
  splitOnError: boolean;
  /** Longest silence of a client while its body is read (bodyTimeoutSeconds × 1000); 0 = none. */
  bodyTimeoutMs?: number;
}

/** Open batches per revision (one per compatibility key); a request of another kind beyond these goes alone. */
const MAX_OPEN_BATCHES = 16;
/** Statuses that say nothing about a request's content: a split would only repeat them. */
const NOT_SPLIT = new Set([408, 429, 499, 502, 503, 504]);

interface Caller {
  ex: Exchange;
  /** The caller's body, as text; `part` when it can merge (null: sent alone). */
  text: string;
  part: Part | null;
  rows: number;
  bytes: number;
  done: boolean;
  /** Its batch was sent: a caller that leaves now only drops its slice. */
  sent: boolean;
  batch: Batch | null;
  resolve: () => void;
  timer: TimerHandle | null;
  onGone: () => void;
}

interface Batch {
  key: string;
  rev: RevisionView;
  path: string;
  callers: Caller[];
  rows: number;
  /** clock.monotonic() when its first request joined. */
  firstAt: number;
  timer: TimerHandle | null;
  /** Sent with its caller's own bytes (not merged). */
  solo: boolean;
  /** Once sent: aborted when every caller has left or timed out (the request to the runtime is dropped). */
  signal?: ClientGone;
}

interface RevisionBatches {
  open: Map<string, Batch>;
  inflight: number;
}

export class Batcher implements Stage {
  readonly name = 'batcher';
  private readonly revisions = new Map<string, RevisionBatches>();
  private readonly batchRows: Histogram<'revision'>;
  private readonly batchCallers: Histogram<'revision'>;
  private readonly waitSeconds: Histogram<'revision'>;
  private readonly aloneTotal: Counter<'revision' | 'reason'>;
  private readonly splitsTotal: Counter<'revision'>;

  constructor(private readonly o: BatcherOptions) {
    const registers = [o.metrics.registry];
    const sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096];
    this.batchRows = new Histogram({ name: 'sluice_batcher_batch_rows', help: 'Rows (v1 instances, v2 dim 0) per request sent to the runtime by the batcher.', labelNames: ['revision'], buckets: sizes, registers });
    this.batchCallers = new Histogram({ name: 'sluice_batcher_batch_requests', help: 'Client requests merged into one request to the runtime.', labelNames: ['revision'], buckets: sizes, registers });
    this.waitSeconds = new Histogram({
      name: 'sluice_batcher_wait_seconds',
      help: 'Time a batch spent forming: from its first request to being sent.',
      labelNames: ['revision'],
      buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.aloneTotal = new Counter({ name: 'sluice_batcher_alone_total', help: 'Requests to a batching revision sent alone, unmerged, by reason.', labelNames: ['revision', 'reason'], registers });
    this.splitsTotal = new Counter({ name: 'sluice_batcher_split_retries_total', help: 'Failed batches split in halves and retried (batchSplitOnError).', labelNames: ['revision'], registers });
  }

  onDispatch(ex: Exchange, d: Dispatch): Promise<void> | undefined {
    const rev = ex.rev!;
    if (rev.batcher === null || ex.req.method !== 'POST') return undefined;
    const protocol = protocolOf(ex.path);
    if (protocol === null) return undefined;
    const h = ex.req.headers;
    const alone = (reason: AloneReason): undefined => {
      this.aloneTotal.inc({ revision: rev.name, reason });
      return undefined;
    };
    if (h['inference-header-content-length'] !== undefined) return alone('binary_extension');
    if (h['content-encoding'] !== undefined && h['content-encoding'] !== 'identity') return alone('content_encoding');
    const type = h['content-type'];
    if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) return alone('content_type');
    const length = h['content-length'] === undefined ? NaN : Number(h['content-length']);
    if (!Number.isSafeInteger(length)) return alone('unknown_length');
    if (length > this.o.maxBodyBytes) return alone('too_large');
    return this.take(ex, d, protocol, length);
  }

  /** The caller's whole life in the batcher: read, join a batch (or go alone), wait for its answer. */
  private take(ex: Exchange, d: Dispatch, protocol: 'v1' | 'v2', length: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const c: Caller = { ex, text: '', part: null, rows: 0, bytes: length, done: false, sent: false, batch: null, resolve, timer: null, onGone: () => this.gone(c) };
      ex.watchClient();
      ex.signal.addEventListener('abort', c.onGone);
      c.timer = this.o.clock.setTimeout(() => this.expired(c), Math.max(0, ex.deadlineAt - this.o.clock.now()));
      this.readBody(c, length).then(
        (text) => {
          if (c.done) return;
          c.text = text;
          const part = readPart(protocol, text);
          const rev = ex.rev!;
          if ('alone' in part) {
            this.aloneTotal.inc({ revision: rev.name, reason: part.alone });
            return this.sendSolo(c, d);
          }
          if (part.rows > rev.batcher!.maxBatchSize) {
            this.aloneTotal.inc({ revision: rev.name, reason: 'over_max_batch_size' });
            return this.sendSolo(c, d);
          }
          c.part = part;
          c.rows = part.rows;
          this.join(c, d);
        },
        (err: unknown) => {
          if (c.done) return;
          ex.res.shouldKeepAlive = false;
          this.answerError(c, d, err);
        },
      );
    });
  }

  private readBody(c: Caller, length: number): Promise<string> {
    const req = c.ex.req;
    const clock = this.o.clock;
    const idleMs = this.o.bodyTimeoutMs ?? 0;
    return new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      // A client that stops sending its body: 408 after bodyTimeoutSeconds of silence (one timer, moved on when it fires).
      let lastData = clock.now();
      let watch: TimerHandle | null = null;
      const check = (): void => {
        const quiet = clock.now() - lastData;
        if (quiet < idleMs) {
          watch = clock.setTimeout(check, idleMs - quiet);
          return;
        }
        watch = null;
        const s = idleMs / 1000;
        reject(new HttpError(408, `the client sent no request body bytes for ${s} s while the gateway was reading them (bodyTimeoutSeconds=${s})`));
      };
      if (idleMs > 0) watch = clock.setTimeout(check, idleMs);
      const stop = (): void => {
        if (watch !== null) clock.clearTimeout(watch);
        watch = null;
      };
      const tee = c.ex.teeBody;
      req.on('data', (chunk: Buffer) => {
        lastData = clock.now();
        size += chunk.length;
        if (size > length) return; // more than declared: Node's parser refuses it before this
        chunks.push(chunk);
        // The stages that asked for bodies (the request logger) see the caller's own body, not the merged one.
        if (tee) c.ex.requestData(chunk);
      });
      req.once('end', () => {
        stop();
        resolve(Buffer.concat(chunks).toString('utf8'));
      });
      req.once('close', stop);
      req.once('error', reject);
      req.once('aborted', () => reject(Object.assign(new Error('client closed the request'), { status: 499 })));
    });
  }

  private join(c: Caller, d: Dispatch): void {
    const rev = c.ex.rev!;
    const settings = rev.batcher!;
    const st = this.stateOf(rev);
    const key = `${c.ex.path}\n${c.ex.req.headers['content-type'] ?? ''}\n${c.part!.key}`;
    let b = st.open.get(key);
    if (b !== undefined && b.rows + c.rows > settings.maxBatchSize) {
      this.send(b, d);
      b = undefined;
    }
    if (b === undefined) {
      if (st.open.size >= MAX_OPEN_BATCHES) {
        this.aloneTotal.inc({ revision: rev.name, reason: 'too_many_kinds' });
        return this.sendSolo(c, d);
      }
      b = { key, rev, path: c.ex.path, callers: [], rows: 0, firstAt: this.o.clock.monotonic(), timer: null, solo: false };
      st.open.set(key, b);
    }
    b.callers.push(c);
    b.rows += c.rows;
    c.batch = b;
    if (b.rows >= settings.maxBatchSize || this.slotFree(st, rev, d)) return this.send(b, d);
    if (b.timer === null) {
      const batch = b;
      b.timer = this.o.clock.setTimeout(() => {
        batch.timer = null;
        this.send(batch, d);
      }, settings.maxLatencyMs);
    }
  }

  private slotFree(st: RevisionBatches, rev: RevisionView, d: Dispatch): boolean {
    const perReplica = rev.containerConcurrency > 0 ? rev.containerConcurrency : 1;
    return st.inflight < Math.max(1, d.activeReplicas(rev.key)) * perReplica;
  }

  private stateOf(rev: RevisionView): RevisionBatches {
    let st = this.revisions.get(rev.key);
    if (st === undefined) {
      st = { open: new Map(), inflight: 0 };
      this.revisions.set(rev.key, st);
    }
    return st;
  }

  private sendSolo(c: Caller, d: Dispatch): void {
    const rev = c.ex.rev!;
    const b: Batch = { key: '', rev, path: c.ex.path, callers: [c], rows: c.rows, firstAt: this.o.clock.monotonic(), timer: null, solo: true };
    c.batch = b;
    this.stateOf(rev).inflight++;
    this.dispatchBatch(b, d);
  }

  /** Closes an open batch and sends it with the callers still waiting. */
  private send(b: Batch, d: Dispatch): void {
    const st = this.stateOf(b.rev);
    if (st.open.get(b.key) === b) st.open.delete(b.key);
    if (b.timer !== null) this.o.clock.clearTimeout(b.timer);
    b.timer = null;
    b.callers = b.callers.filter((c) => !c.done);
    if (b.callers.length === 0) return this.forget(st, b.rev);
    st.inflight++;
    this.waitSeconds.observe({ revision: b.rev.name }, (this.o.clock.monotonic() - b.firstAt) / 1000);
    this.dispatchBatch(b, d);
  }

  /** Sends a closed batch (counted in `inflight` by the caller of this) and answers its callers. */
  private dispatchBatch(b: Batch, d: Dispatch): void {
    const st = this.stateOf(b.rev);
    const callers = b.callers;
    for (const c of callers) {
      c.sent = true;
      c.batch = b;
    }
    const first = callers[0]!;
    const rows = callers.reduce((n, c) => n + c.rows, 0);
    this.batchRows.observe({ revision: b.rev.name }, b.solo ? Math.max(1, rows) : rows);
    this.batchCallers.observe({ revision: b.rev.name }, callers.length);
    let body: Buffer;
    try {
      body = Buffer.from(b.solo ? first.text : mergeBodies(callers.map((c) => c.part!)), 'utf8');
    } catch (err) {
      for (const c of callers) this.answerError(c, d, err);
      st.inflight--;
      return this.kick(st, b.rev, d);
    }
    const headers = upstreamRequestHeaders(first.ex.req, first.ex.upstreamDrop);
    headers['content-length'] = String(body.length);
    // The batch is abandoned only when every caller has left or timed out (finish() checks).
    const signal = new ClientGone();
    b.signal = signal;
    const deadlineAt = Math.max(...callers.map((c) => c.ex.deadlineAt));
    d.send({
      revisionKey: b.rev.key,
      path: b.path,
      headers,
      body,
      bytes: body.length,
      deadlineAt,
      timeoutMs: b.rev.batcher!.timeoutSeconds * 1000,
      signal,
      priority: first.ex.priority,
      callers: callers.map((c) => c.ex),
    }).then(
      (answer) => {
        if (answer.status >= 400 && this.o.splitOnError && callers.length > 1 && !NOT_SPLIT.has(answer.status) && !b.solo) {
          const live = callers.filter((c) => !c.done);
          if (live.length > 1) return this.splitRetry(b, live, d);
          if (live.length === 1) return this.resend([live[0]!], b, d);
        }
        this.deliver(b, callers, answer, d.draining);
      },
      (err: unknown) => {
        for (const c of callers) this.answerError(c, d, err);
      },
    ).finally(() => {
      st.inflight--;
      this.kick(st, b.rev, d);
    });
  }

  private splitRetry(b: Batch, live: Caller[], d: Dispatch): void {
    this.splitsTotal.inc({ revision: b.rev.name });
    const half = Math.ceil(live.length / 2);
    this.resend(live.slice(0, half), b, d);
    this.resend(live.slice(half), b, d);
  }

  private resend(callers: Caller[], b: Batch, d: Dispatch): void {
    const st = this.stateOf(b.rev);
    st.inflight++;
    this.dispatchBatch({ ...b, callers, rows: callers.reduce((n, c) => n + c.rows, 0), solo: callers.length === 1 }, d);
  }

  /** A slot freed: the oldest open batch of the revision leaves if there is still a free slot. */
  private kick(st: RevisionBatches, rev: RevisionView, d: Dispatch): void {
    for (const b of st.open.values()) {
      if (!this.slotFree(st, rev, d)) break;
      this.send(b, d);
    }
    this.forget(st, rev);
  }

  private forget(st: RevisionBatches, rev: RevisionView): void {
    if (st.inflight === 0 && st.open.size === 0) this.revisions.delete(rev.key);
  }

  private deliver(b: Batch, callers: Caller[], answer: BufferedAnswer & { heldMs: number; coldStart: boolean }, draining: boolean): void {
    let bodies: Array<string | Buffer>;
    const status = answer.status;
    if (b.solo || status >= 300) bodies = callers.map(() => answer.body);
    else {
      try {
        bodies = splitAnswer(callers.map((c) => c.part!), answer.body.toString('utf8'));
      } catch (err) {
        const message = err instanceof Unsplittable ? `batched request: ${err.message}` : 'batched request: the runtime answer could not be split';
        for (const c of callers) if (!c.done) this.finish(c, 502, () => writeError(c.ex.res, 502, message));
        return;
      }
    }
    callers.forEach((c, i) => {
      if (c.done) return;
      const body = bodies[i]!;
      const headers = { ...answer.headers };
      delete headers['content-length'];
      headers['content-length'] = String(typeof body === 'string' ? Buffer.byteLength(body) : body.length);
      c.ex.heldMs = answer.heldMs;
      c.ex.coldStart = answer.coldStart;
      if (answer.coldStart) c.ex.coldStartMs = answer.heldMs;
      c.ex.responseStart(status, headers);
      if (c.ex.teeBody) c.ex.responseData(typeof body === 'string' ? Buffer.from(body, 'utf8') : body);
      if (draining) c.ex.res.shouldKeepAlive = false;
      this.finish(c, status, () => c.ex.res.writeHead(status, headers).end(body));
    });
  }

  private answerError(c: Caller, d: Dispatch, err: unknown): void {
    if (c.done) return;
    const e = err as { status?: number };
    if (e && e.status === 499) return this.gone(c);
    this.finish(c, 0, () => {
      c.ex.status = d.answerError(c.ex.res, err);
    });
  }

  /** The caller's deadline passed: 504, and out of its batch (or its slice dropped). */
  private expired(c: Caller): void {
    c.timer = null;
    if (c.done) return;
    const ms = c.ex.rev!.timeoutMs;
    this.finish(c, 504, () => writeError(c.ex.res, 504, `the request did not complete within its timeout of ${ms / 1000} s (batched)`));
    this.leaveBatch(c);
  }

  /** The client went away. */
  private gone(c: Caller): void {
    if (c.done) return;
    this.finish(c, 499, () => c.ex.res.destroy());
    this.leaveBatch(c);
  }

  private leaveBatch(c: Caller): void {
    const b = c.batch;
    if (b === null || c.sent) return;
    b.rows -= c.rows;
  }

  private finish(c: Caller, status: number, write: () => void): void {
    c.done = true;
    if (c.timer !== null) this.o.clock.clearTimeout(c.timer);
    c.timer = null;
    c.ex.signal.removeEventListener('abort', c.onGone);
    if (status !== 0) c.ex.status = status;
    try {
      write();
    } finally {
      c.ex.unwatchClient();
      c.resolve();
      const b = c.batch;
      if (c.sent && b?.signal !== undefined && !b.signal.aborted && b.callers.every((x) => x.done)) b.signal.abort();
    }
  }
}
