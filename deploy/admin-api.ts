import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { parseInferenceService } from '../api/inferenceservice.js';
import { HttpError, ValidationError, errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Controller } from './controller.js';
import { parseTrafficCommand } from './traffic-commands.js';

const GROUP_PATHS = ['/apis/serving.kserve.io/v1beta1', '/apis/serving.sluice.dev/v1beta1'];
const MAX_BODY_BYTES = 1024 * 1024;

export interface AdminApiDeps {
  controller: Controller;
  logger: Logger;
  /** false while starting or shutting down (`/readyz` answers 503). */
  ready: () => boolean;
}

/**
 * The admin API, in the Kubernetes REST shape so one client serves embedded and cluster mode:
 * `/apis/serving.kserve.io/v1beta1/namespaces/<ns>/inferenceservices[/<name>]` — list, get, create (POST),
 * replace (PUT, creates when absent), delete. Errors are Kubernetes `Status` objects.
 *
 * Sluice subresources: `POST …/inferenceservices/<name>/traffic` applies a traffic command (to-revisions,
 * to-latest, canary, tag, remove-tag, promote, rollback) by editing the predictor's traffic fields in the stored
 * spec — validated like any spec, refused whole on error — and `GET …/<name>/revisions` lists the revisions with
 * the exact spec each was made from.
 */
export function createAdminServer(deps: AdminApiDeps): Server {
  return createServer((req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      if (!(err instanceof ValidationError) && !(err instanceof HttpError)) deps.logger.error({ err }, 'admin API failure');
      statusForError(res, err);
    });
  });
}

async function handle(deps: AdminApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (path === '/readyz') return deps.ready() ? sendJson(res, 200, { status: 'ready' }) : sendStatus(res, 503, 'ServiceUnavailable', 'not ready');
  const group = GROUP_PATHS.find((g) => path === g || path.startsWith(`${g}/`));
  if (!group) return sendStatus(res, 404, 'NotFound', `no API at ${path}`);
  const rest = path.slice(group.length).split('/').filter(Boolean);
  const c = deps.controller;
  const method = req.method ?? 'GET';

  // /inferenceservices (all namespaces)
  if (rest.length === 1 && rest[0] === 'inferenceservices') {
    if (method !== 'GET') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed here`);
    return sendJson(res, 200, list(c.list(), c.resourceVersionNow));
  }
  if (rest[0] !== 'namespaces' || !rest[1] || rest[2] !== 'inferenceservices' || rest.length > 5)
    return sendStatus(res, 404, 'NotFound', `no resource at ${path}`);
  const ns = rest[1];
  const name = rest[3];
  const sub = rest[4];
  if (sub !== undefined && !['status', 'traffic', 'revisions'].includes(sub)) return sendStatus(res, 404, 'NotFound', `no subresource ${sub}`);
  if (name !== undefined && sub === 'traffic') {
    if (method !== 'POST') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on traffic; POST a command`);
    const text = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      throw new HttpError(400, `request body is not valid JSON: ${errorMessage(err)}`);
    }
    return sendJson(res, 200, await c.updateTraffic(ns, name, parseTrafficCommand(body)));
  }
  if (name !== undefined && sub === 'revisions') {
    if (method !== 'GET') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on revisions`);
    const revs = c.revisionsOf(ns, name);
    if (!revs) return sendStatus(res, 404, 'NotFound', `inferenceservices "${name}" not found`);
    return sendJson(res, 200, { kind: 'RevisionList', apiVersion: 'serving.sluice.dev/v1beta1', items: revs });
  }

  if (name === undefined) {
    if (method === 'GET') return sendJson(res, 200, list(c.list(ns), c.resourceVersionNow));
    if (method !== 'POST') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    const doc = await readObject(req, ns, undefined);
    if (c.get(ns, doc.name)) return sendStatus(res, 409, 'AlreadyExists', `inferenceservices "${doc.name}" already exists`);
    const r = await c.apply(doc.object, 'api');
    return sendJson(res, 201, r.object);
  }

  if (method === 'GET') {
    const obj = c.get(ns, name);
    return obj ? sendJson(res, 200, obj) : sendStatus(res, 404, 'NotFound', `inferenceservices "${name}" not found`);
  }
  if (method === 'PUT') {
    const doc = await readObject(req, ns, name);
    const current = c.get(ns, name);
    if (current && doc.resourceVersion && doc.resourceVersion !== current.metadata.resourceVersion)
      return sendStatus(res, 409, 'Conflict', `the object has been modified (resourceVersion ${doc.resourceVersion} is not ${current.metadata.resourceVersion}); read it again and retry`);
    const r = await c.apply(doc.object, 'api');
    return sendJson(res, r.created ? 201 : 200, r.object);
  }
  if (method === 'DELETE') {
    const obj = c.get(ns, name);
    if (!obj) return sendStatus(res, 404, 'NotFound', `inferenceservices "${name}" not found`);
    await c.delete(ns, name);
    return sendJson(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name, kind: 'inferenceservices' } });
  }
  return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on an InferenceService`);
}

async function readObject(
  req: IncomingMessage,
  ns: string,
  name: string | undefined,
): Promise<{ object: ReturnType<typeof parseInferenceService>['object']; name: string; resourceVersion: string | undefined }> {
  const text = await readBody(req);
  let raw: unknown;
  try {
    raw = /yaml/.test(req.headers['content-type'] ?? '') ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid ${/yaml/.test(req.headers['content-type'] ?? '') ? 'YAML' : 'JSON'}: ${errorMessage(err)}`);
  }
  let resourceVersion: string | undefined;
  if (raw && typeof raw === 'object' && 'metadata' in raw) {
    const md = (raw as { metadata?: Record<string, unknown> }).metadata;
    if (md && typeof md === 'object') {
      if (md.namespace === undefined) md.namespace = ns;
      if (md.namespace !== ns) throw new HttpError(400, `metadata.namespace "${String(md.namespace)}" does not match the namespace in the URL "${ns}"`);
      if (name !== undefined && md.name !== name) throw new HttpError(400, `metadata.name "${String(md.name)}" does not match the name in the URL "${name}"`);
      if (typeof md.resourceVersion === 'string') resourceVersion = md.resourceVersion;
      // Server-set fields are accepted on input and ignored, as the Kubernetes API does.
      for (const k of ['resourceVersion', 'uid', 'generation', 'creationTimestamp', 'managedFields']) delete md[k];
    }
    delete (raw as { status?: unknown }).status;
  }
  const { object } = parseInferenceService(raw);
  return { object, name: object.metadata.name, resourceVersion };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function list(items: unknown[], rv: number): unknown {
  return { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceServiceList', metadata: { resourceVersion: String(rv) }, items };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A Kubernetes `Status` error; validation errors carry their field paths in `details.causes`. */
export function sendStatus(res: ServerResponse, code: number, reason: string, message: string, causes?: Array<{ field: string; message: string }>): void {
  sendJson(res, code, {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message,
    reason,
    code,
    ...(causes ? { details: { causes } } : {}),
  });
}

const REASONS: Record<number, string> = { 404: 'NotFound', 409: 'Conflict', 422: 'Invalid', 507: 'InsufficientStorage' };

export function statusForError(res: ServerResponse, err: unknown): void {
  if (err instanceof ValidationError)
    sendStatus(res, 422, 'Invalid', err.message, err.issues.map((i) => ({ field: i.path, message: i.message })));
  else if (err instanceof HttpError) sendStatus(res, err.status, REASONS[err.status] ?? 'BadRequest', err.message);
  else sendStatus(res, 500, 'InternalError', errorMessage(err));
}
