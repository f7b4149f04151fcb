import type { IncomingMessage, ServerResponse } from 'node:http';
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Activator, Lease } from '../../activator/activator.js';
import type { Clock } from '../../core/clock.js';
import { HttpError } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { SluiceMetrics } from '../../core/metrics.js';
import type { SnapshotHolder } from '../data-plane.js';
import { Exchange } from '../exchange.js';
import { ForwardError } from '../forwarder.js';
import type { Pipeline } from '../pipeline.js';
import { ANSWERED_BY_HEADER } from '../model-probes.js';
import { matchRoute, type RouteMatch } from '../route-table.js';
import { SERVER_METADATA, type GatewayPhase } from '../server-endpoints.js';
import type { Refusal } from '../stage.js';
import type { TrafficPicker } from '../traffic-picker.js';
import { forwardCall, GrpcCallAnswer } from './grpc-call.js';
import {
  boolResponse,
  frameMessage,
  grpcStatusOf,
  GrpcStatus,
  healthResponse,
  httpStatusOf,
  isModelScoped,
  MODEL_NAME_SCAN_BYTES,
  modelProbeCall,
  parseGrpcTimeout,
  readModelName,
  readModelRef,
  serverLevelCall,
  serverMetadataResponse,
  splitGrpcPath,
} from './grpc-wire.js';
import { GrpcModelProbes } from './grpc-probes.js';
import type { GrpcSessionPool } from './session-pool.js';

export interface GrpcGatewayDeps {
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  snapshot: SnapshotHolder;
  activator: Activator;
  pipeline: Pipeline;
  /** The HTTP gateway's picker: one split per route, whichever protocol a request came by. */
  picker: TrafficPicker;
  phase: GatewayPhase;
  tagHeader: string;
  pool: GrpcSessionPool;
  /** Largest request message (grpcMaxMessageBytes). */
  maxMessageBytes: number;
  /** How long a call routed by model name may take to send the bytes that carry it (headerTimeoutSeconds). */
  headTimeoutMs: number;
  /** Counts the call as in the gateway (graceful shutdown). */
  enter(): void;
  leave(): void;
}

/** Why a call ends before it reaches a replica: a gRPC status and the message naming the cause. */
class CallRefused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The gRPC side of the gateway: one call per HTTP/2 stream, on the same way as an HTTP request — an Exchange,
 * the arrival stages, the route (`:authority` as a host, else the model name of an OIP call's first message),
 * the routed stages, admission (demand: counted, may wake the revision), the activator (held while the revision
 * scales from zero; the replica's breaker counts it), the forward over a pooled HTTP/2 session, the done stages.
 * Every failure is a gRPC status (trailers-only when nothing was sent), never an HTTP error page.
 *
 * For a gRPC call `ex.req` carries the call's headers (metadata and pseudo-headers), method `POST`, `url` the
 * `:path` and the connection's socket; `ex.protocol` is `grpc`. Stages change the answer through the hooks'
 * header bags only.
 */
export class GrpcGateway {
  private readonly probes = new GrpcModelProbes();

  constructor(private readonly d: GrpcGatewayDeps) {}

  handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    void this.serve(stream, headers);
  }

  private async serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const d = this.d;
    const type = headers['content-type'];
    if (typeof type !== 'string' || !type.startsWith('application/grpc')) {
      const body = JSON.stringify({ error: 'HTTP/2 on this port carries gRPC only (content-type application/grpc); send other requests over HTTP/1.1' });
      stream.on('error', () => {});
      stream.respond({ ':status': 415, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      stream.end(body);
      stream.resume();
      return;
    }
    d.enter();
    const p = d.pipeline;
    const path = headers[':path'] ?? '/';
    const req = { headers, method: 'POST', url: path, httpVersion: '2.0', socket: stream.session?.socket } as unknown as IncomingMessage;
    const ex = new Exchange(req, stream as unknown as ServerResponse, d.clock.now(), d.clock.monotonic(), p);
    ex.protocol = 'grpc';
    // The call's way awaits (routing, the stages): its times are read from the clock, not taken from `arrival`.
    ex.sameRun = false;
    const answer = new GrpcCallAnswer(stream);
    stream.on('error', () => {
      // A reset by the client: 'close' follows.
    });
    const onClose = (): void => {
      if (!answer.done) ex.signal.abort();
    };
    stream.once('close', onClose);
    try {
      if (p.hasArrival) {
        let refusal = p.runArrival(ex);
        if (refusal instanceof Promise) refusal = await refusal;
        if (refusal) return refuse(answer, refusal);
      }
      const routed = await this.route(ex, stream, headers, answer);
      if (routed === false) return;
      const keepAs = routed;
      if (p.hasRouted) {
        let refusal = p.runRouted(ex);
        if (refusal instanceof Promise) refusal = await refusal;
        if (refusal) return refuse(answer, refusal);
      }
      ex.admitted = true;
      if (p.hasAdmitted) p.runAdmitted(ex);
      await this.dispatch(ex, stream, headers, answer, keepAs);
    } catch (err) {
      if (err instanceof CallRefused) answer.fail(err.code, err.message);
      else {
        d.logger.error({ err }, 'gRPC call failed in the gateway');
        answer.fail(GrpcStatus.INTERNAL, 'internal gateway error');
      }
    } finally {
      ex.status = answer.status === -1 ? 499 : httpStatusOf(answer.status);
      if (p.hasDone) p.runDone(ex);
      d.leave();
    }
  }

  /**
   * Finds the route and revision (on `ex`), or answers the call itself and returns false. Returns the version
   * whose ModelMetadata answer is to be kept when the call is one not kept yet, else true.
   */
  private async route(ex: Exchange, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, answer: GrpcCallAnswer): Promise<boolean | { version: string }> {
    const d = this.d;
    const path = ex.req.url!;
    const method = splitGrpcPath(path);
    if (method === null) throw new CallRefused(GrpcStatus.UNIMPLEMENTED, `"${path}" is not a gRPC method path (/<package.Service>/<Method>)`);
    const timeout = parseGrpcTimeout(headers['grpc-timeout']);
    if (timeout !== null && Number.isNaN(timeout)) throw new CallRefused(GrpcStatus.INVALID_ARGUMENT, `malformed grpc-timeout "${String(headers['grpc-timeout'])}"`);
    let snap = d.snapshot.current;
    const tagValue = headers[d.tagHeader];
    const tag = typeof tagValue === 'string' ? tagValue : undefined;
    const authority = headers[':authority'];
    let match: RouteMatch | null = matchRoute(snap.routes, authority, path, tag);
    if (!match) {
      const server = serverLevelCall(method.service, method.method);
      if (server !== null) {
        this.answerServerLevel(server, answer);
        return false;
      }
      if (!isModelScoped(method.service, method.method)) {
        d.metrics.unroutedTotal.inc({ reason: 'no_route' });
        throw new CallRefused(
          GrpcStatus.NOT_FOUND,
          `no InferenceService matches :authority "${authority ?? ''}"; a call to ${method.service}/${method.method} is routed by host only (model-scoped OIP calls also by their model name)`,
        );
      }
      const name = await readFirstMessageModelName(stream, d.clock, d.headTimeoutMs);
      snap = d.snapshot.current;
      const route = snap.routes.byModel.get(name);
      if (!route) {
        d.metrics.unroutedTotal.inc({ reason: 'no_route' });
        throw new CallRefused(GrpcStatus.NOT_FOUND, `no InferenceService serves model "${name}" (and none matches :authority "${authority ?? ''}")`);
      }
      match = { route, tag: tag ? tag.trim() || null : null, path };
    }
    ex.match = match;
    const target = d.picker.pick(match.route, match.tag, headers);
    const service = `${match.route.namespace}/${match.route.service}`;
    if (!target) {
      d.metrics.unroutedTotal.inc({ reason: match.tag ? 'unknown_tag' : 'no_traffic' });
      if (match.tag) throw new CallRefused(GrpcStatus.NOT_FOUND, `InferenceService ${service} has no tag "${match.tag}"`);
      throw new CallRefused(GrpcStatus.UNAVAILABLE, `InferenceService ${service} has no revision taking traffic`);
    }
    const rev = snap.revisions.get(target.revisionKey);
    if (!rev) throw new CallRefused(GrpcStatus.UNAVAILABLE, `revision ${target.revisionName} is not available`);
    if (rev.failed !== null) {
      d.metrics.unroutedTotal.inc({ reason: 'revision_failed' });
      throw new CallRefused(GrpcStatus.UNAVAILABLE, rev.failed);
    }
    // OIP model probes (ModelReady, ModelMetadata) for a revision at zero are answered here: they are not demand.
    const probe = modelProbeCall(method.service, method.method);
    let keepAs: true | { version: string } = true;
    if (probe !== null) {
      const warm = d.activator.activeReplicas(rev.key) > 0;
      if (!warm || probe === 'metadata') {
        const ref = await readFirstMessage(stream, d.clock, d.headTimeoutMs, (buf) => {
          const r = readModelRef(buf);
          return r.kind === 'more' ? undefined : r.kind === 'ref' ? r : null;
        });
        if (ref !== null && ref.name === rev.modelName) {
          const kept = probe === 'metadata' ? this.probes.kept(snap, rev, ref.version) : undefined;
          if (!warm && probe === 'ready') {
            // Proven ready once: it starts on demand, so it is ready; never ready yet: not (it starts on inference).
            answer.message(frameMessage(boolResponse(rev.proven)), { [ANSWERED_BY_HEADER]: 'gateway' });
            return false;
          }
          if (!warm && kept !== undefined) {
            answer.message(kept, { [ANSWERED_BY_HEADER]: 'gateway' });
            return false;
          }
          // Forwarded (warm, or metadata never seen: the call wakes the revision once); a metadata answer not
          // kept yet is kept as it passes.
          if (probe === 'metadata' && kept === undefined) keepAs = { version: ref.version };
        }
      }
    }
    ex.rev = rev;
    ex.path = path;
    ex.deadlineAt = ex.arrival + (timeout === null ? rev.timeoutMs : Math.min(timeout, rev.timeoutMs));
    return keepAs;
  }

  private answerServerLevel(call: NonNullable<ReturnType<typeof serverLevelCall>>, answer: GrpcCallAnswer): void {
    const ready = this.d.phase.notReadyReason() === null;
    switch (call) {
      case 'live':
        return answer.message(frameMessage(boolResponse(true)));
      case 'ready':
        return answer.message(frameMessage(boolResponse(ready)));
      case 'metadata':
        return answer.message(frameMessage(serverMetadataResponse(SERVER_METADATA.name, SERVER_METADATA.version, SERVER_METADATA.extensions)));
      case 'health':
        return answer.message(frameMessage(healthResponse(ready)));
    }
  }

  /** Acquire a replica (maybe held), forward; on a replica no connection could be made to, try another. */
  private async dispatch(ex: Exchange, stream: ServerHttp2Stream, headers: IncomingHttpHeaders, answer: GrpcCallAnswer, keepAs: true | { version: string }): Promise<void> {
    const { clock, activator, pool } = this.d;
    const rev = ex.rev!;
    const clientDeadline = headers['grpc-timeout'] !== undefined;
    for (;;) {
      let lease: Lease;
      try {
        const acquired = activator.acquire(rev.key, ex);
        lease = acquired instanceof Promise ? await acquired : acquired;
      } catch (err) {
        if (err instanceof HttpError) {
          if (err.status === 499) return;
          const code = err.status === 504 ? GrpcStatus.DEADLINE_EXCEEDED : grpcStatusOf(err.status, 'retry-after' in err.headers);
          throw new CallRefused(code, err.message);
        }
        throw err;
      }
      // A retry on another replica adds its wait; a call that was held for a cold start stays one (the replica
      // that just became ready may refuse its first connection, e.g. a gRPC port that opens after the HTTP one).
      ex.heldMs += lease.heldMs;
      if (lease.coldStart) ex.coldStart = true;
      if (ex.coldStart) ex.coldStartMs = ex.heldMs;
      const endpoint = lease.replica.endpoint;
      try {
        if (!endpoint.grpcUrl) {
          throw new CallRefused(
            GrpcStatus.UNIMPLEMENTED,
            `revision ${rev.name} serves no gRPC: its runtime declares no gRPC port (a container port named h2c or grpc-…)`,
          );
        }
        if (answer.done) return;
        const { session, done } = await pool.acquire(endpoint.grpcUrl);
        try {
          await forwardCall(session, answer, {
            clock,
            headers,
            path: ex.path,
            replica: endpoint.id,
            deadlineAt: ex.deadlineAt,
            clientDeadline,
            revisionTimeoutSeconds: rev.timeoutMs / 1000,
            maxMessageBytes: this.d.maxMessageBytes,
            observer: this.d.pipeline.observesForward ? ex : undefined,
            keepAnswer: keepAs === true ? undefined : { maxBytes: this.probes.maxMessageBytes, keep: (frame) => this.probes.keep(rev, keepAs.version, frame) },
          });
        } finally {
          done();
        }
        // A connection that died under a call is a replica gone or going: no new call until a probe says otherwise.
        if (answer.lost) activator.reportFailure(rev.key, endpoint.id);
        return;
      } catch (err) {
        if (err instanceof ForwardError) {
          if (err.unreachable) activator.reportFailure(rev.key, endpoint.id);
          if (err.retryable && clock.now() < ex.deadlineAt && !answer.done) {
            this.d.logger.warn({ revision: rev.key, replica: endpoint.id, code: err.code }, 'gRPC call: retrying on another replica');
            continue;
          }
          throw new CallRefused(GrpcStatus.UNAVAILABLE, `replica ${endpoint.id} is unavailable: ${err.message}`);
        }
        throw err;
      } finally {
        lease.release();
      }
    }
  }
}

function refuse(answer: GrpcCallAnswer, r: Refusal): void {
  answer.fail(grpcStatusOf(r.status, r.headers !== undefined && 'retry-after' in r.headers), r.message);
}

/**
 * Reads the first request bytes until the first message's model name can be read, then puts them back (the
 * forward sends them first). Bounded: MODEL_NAME_SCAN_BYTES plus one chunk, and `timeoutMs`.
 */
function readFirstMessageModelName(stream: ServerHttp2Stream, clock: Clock, timeoutMs: number): Promise<string> {
  return readFirstMessage(stream, clock, timeoutMs, (buf, size) => {
    const read = readModelName(buf);
    if (read.kind === 'name') return read.name;
    if (read.kind === 'none') return new CallRefused(GrpcStatus.INVALID_ARGUMENT, `cannot route the call by model name: ${read.reason}; send the InferenceService's host as :authority`);
    if (size > MODEL_NAME_SCAN_BYTES + 16) return new CallRefused(GrpcStatus.INVALID_ARGUMENT, `cannot route the call by model name: it is not within the first ${MODEL_NAME_SCAN_BYTES} bytes`);
    return undefined;
  });
}

/**
 * Reads the first request bytes until `decide` settles on them (a value, or a refusal), then puts them back (the
 * forward sends them first). `decide` bounds what it reads; the wait is bounded by `timeoutMs`.
 */
function readFirstMessage<T>(stream: ServerHttp2Stream, clock: Clock, timeoutMs: number, decide: (buf: Buffer, size: number) => T | CallRefused | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: T | CallRefused): void => {
      clock.clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.pause();
      if (chunks.length > 0) stream.unshift(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      if (result instanceof CallRefused) reject(result);
      else resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      size += chunk.length;
      const buf = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      const r = decide(buf, size);
      if (r !== undefined) finish(r);
    };
    const onEnd = (): void => finish(new CallRefused(GrpcStatus.INVALID_ARGUMENT, 'the request ended before its first message did'));
    const timer = clock.setTimeout(
      () => finish(new CallRefused(GrpcStatus.DEADLINE_EXCEEDED, `the call's first message did not arrive within ${timeoutMs / 1000} s (headerTimeoutSeconds)`)),
      timeoutMs,
    );
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    // A stream paused by an earlier read (the model name, then the probe's request) flows again.
    stream.resume();
  });
}
