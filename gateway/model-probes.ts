/**
 * Model readiness and metadata probes that let models sleep. `GET /v1/models/<m>`, `GET /v2/models/<m>[/versions/<v>]`
 * and `GET /v2/models/<m>[/versions/<v>]/ready` for a revision with no ready replica are answered here instead of
 * waking it: readiness from what the controller knows of the revision (proven ready once → it can start on
 * demand → ready), metadata from what a replica of the revision last answered. Only metadata never seen wakes
 * the revision. With a warm replica every probe is forwarded as usual. See docs/probes.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeError } from '../core/errors.js';
import type { DataPlaneSnapshot, RevisionView } from './data-plane.js';
import { RevisionAnswers } from './revision-answers.js';

export type ModelProbeKind = 'v1-ready' | 'v2-ready' | 'v2-metadata';

export interface ModelProbe {
  kind: ModelProbeKind;
  /** Model name as the client wrote it (decoded). */
  model: string;
  /** `/versions/<v>` of a v2 path, or null. */
  version: string | null;
}

const V1_MODEL = /^\/v1\/models\/([^/:]+)$/;
const V2_MODEL = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready)?$/;

/** The probe a GET path asks for (query ignored), or null when it is not one. */
export function parseModelProbe(url: string): ModelProbe | null {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const v1 = V1_MODEL.exec(path);
  if (v1) {
    const model = decoded(v1[1]!);
    return model === null ? null : { kind: 'v1-ready', model, version: null };
  }
  const v2 = V2_MODEL.exec(path);
  if (!v2) return null;
  const model = decoded(v2[1]!);
  const version = v2[2] === undefined ? null : decoded(v2[2]);
  if (model === null || version === null && v2[2] !== undefined) return null;
  return { kind: v2[3] ? 'v2-ready' : 'v2-metadata', model, version };
}

function decoded(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** Header on answers the gateway gave in place of a replica. */
export const ANSWERED_BY_HEADER = 'x-sluice-answered-by';

export interface ModelProbeLimits {
  /** Largest metadata body kept per revision and version; a larger one is forwarded every time. Default 64 KiB. */
  maxBodyBytes?: number;
  /** Versions whose metadata is kept per revision. Default 4. */
  maxVersionsPerRevision?: number;
  /** Revisions with kept metadata; the oldest entry goes first past it. Default 10,000. */
  maxRevisions?: number;
}

interface CachedBody {
  contentType: string;
  body: Buffer;
}


/**
 * Decides, per probe, whether the gateway answers it, and keeps the last metadata each revision's replicas
 * gave (one small entry per revision, dropped with the revision). Not on the inference path: the gateway asks
 * only for GET and HEAD requests.
 */
export class ModelProbes {
  private readonly maxBodyBytes: number;
  /** version ('' for none) → the runtime's answer, per revision. */
  private readonly answers: RevisionAnswers<CachedBody>;

  constructor(limits: ModelProbeLimits = {}) {
    this.maxBodyBytes = limits.maxBodyBytes ?? 64 * 1024;
    this.answers = new RevisionAnswers(limits.maxVersionsPerRevision ?? 4, limits.maxRevisions ?? 10_000);
  }

  /** Revisions with kept metadata (for tests and status). */
  get size(): number {
    return this.answers.size;
  }

  /**
   * For a GET or HEAD routed to `rev` (its upstream path `path`): answers it and returns true when the revision
   * has no ready replica (`warm` false) and the answer is known without one. Returns false to forward it as
   * usual; a GET for metadata not kept yet then has its 200 answer kept as it streams to the client.
   */
  answer(req: IncomingMessage, res: ServerResponse, snap: DataPlaneSnapshot, rev: RevisionView, path: string, warm: boolean): boolean {
    const probe = parseModelProbe(path);
    if (probe === null || probe.model !== rev.modelName) return false;
    this.answers.sync(snap);
    const version = probe.version ?? '';
    if (warm) {
      if (probe.kind === 'v2-metadata' && req.method === 'GET' && !this.kept(rev, version)) this.keepWhenAnswered(res, rev, version);
      return false;
    }
    if (probe.kind !== 'v2-metadata') {
      if (!rev.proven) {
        writeError(res, 503, `model ${rev.modelName} is not ready: revision ${rev.name} has not been ready yet (it starts on the first inference request)`, {
          [ANSWERED_BY_HEADER]: 'gateway',
        });
        return true;
      }
      sendJson(res, JSON.stringify({ name: rev.modelName, ready: true }), 'application/json');
      return true;
    }
    const kept = this.kept(rev, version);
    if (kept) {
      sendJson(res, kept.body, kept.contentType);
      return true;
    }
    // Never seen: the probe wakes the revision, and its answer is kept for the next one.
    if (req.method === 'GET') this.keepWhenAnswered(res, rev, version);
    return false;
  }

  /** Drops a revision's kept metadata. */
  forget(revisionKey: string): void {
    this.answers.delete(revisionKey);
  }

  private kept(rev: RevisionView, version: string): CachedBody | undefined {
    return this.answers.get(rev, version);
  }

  private store(rev: RevisionView, version: string, body: CachedBody): void {
    this.answers.set(rev, version, body);
  }

  /** Keeps the body of `res` when it is a 200 no larger than the bound, as it is written by the forwarder. */
  private keepWhenAnswered(res: ServerResponse, rev: RevisionView, version: string): void {
    captureResponse(res, this.maxBodyBytes, (status, contentType, body) => {
      if (status === 200) this.store(rev, version, { contentType, body });
    });
  }
}

function sendJson(res: ServerResponse, body: string | Buffer, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), [ANSWERED_BY_HEADER]: 'gateway' });
  res.end(body);
}

type Captured = (status: number, contentType: string, body: Buffer) => void;

/**
 * Sees what is written to one response (status, content type, body up to `maxBytes`) and calls `done` when it
 * ends whole and within the bound. Wraps this one response's own methods; nothing else pays for it.
 */
export function captureResponse(res: ServerResponse, maxBytes: number, done: Captured): void {
  const chunks: Buffer[] = [];
  let bytes = 0;
  let over = false;
  let contentType = 'application/json';
  const keep = (chunk: unknown): void => {
    if (over || chunk === undefined || chunk === null || typeof chunk === 'function') return;
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk instanceof Uint8Array ? Buffer.from(chunk) : null;
    if (b === null) return;
    bytes += b.length;
    if (bytes > maxBytes) {
      over = true;
      chunks.length = 0;
    } else chunks.push(b);
  };
  const writeHead = res.writeHead;
  const write = res.write;
  const end = res.end;
  res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
    for (const a of args.slice(1)) {
      if (a && typeof a === 'object' && !Array.isArray(a)) {
        const ct = (a as Record<string, unknown>)['content-type'];
        if (typeof ct === 'string') contentType = ct;
      }
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse['writeHead'];
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    keep(args[0]);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse['write'];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    keep(args[0]);
    const ended = (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    if (!over && !res.destroyed) done(res.statusCode, contentType, Buffer.concat(chunks));
    return ended;
  } as ServerResponse['end'];
}
