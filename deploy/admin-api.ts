import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { TlsFiles } from '../core/tls-files.js';
import { parseInferenceService } from '../api/inferenceservice.js';
import { warningHeaderValues } from '../api/warning-header.js';
import { HttpError, ValidationError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { parseBody, readBody } from './admin-body.js';
import { checkAdminRequest, type AdminAccess } from './admin-guard.js';
import { AUTH_GROUP_PATH, handleAuthApi, type AuthApiDeps } from './auth/admin-auth-api.js';
import { checkRole } from './auth/admin-roles.js';
import { pageOf, pageRequest, streamList } from './admin-list.js';
import { sendJson, sendStatus, statusForError } from './admin-response.js';
import { handleRuntimes, RUNTIME_GROUP_PATHS } from './admin-runtimes.js';
import type { Controller } from './controller.js';
import type { RuntimeRegistry } from './runtime-registry.js';
import { parseTrafficCommand, parseTrafficComponent } from './traffic-commands.js';

const GROUP_PATHS = ['/apis/serving.kserve.io/v1beta1', '/apis/serving.sluice.dev/v1beta1'];

export interface AdminApiDeps {
  /** HTTPS with this certificate (adminTlsCertFile/adminTlsKeyFile), reloaded when its files change. */
  tls?: TlsFiles | null;
  controller: Controller;
  /** Runtimes applied through the API (ClusterServingRuntime, ServingRuntime, LocalLaunchRecipe). */
  runtimes: RuntimeRegistry;
  logger: Logger;
  /** false while starting or shutting down (`/readyz` answers 503). */
  ready: () => boolean;
  /** The token and host names `/apis` requests are checked against (deploy/admin-guard.ts). */
  access: AdminAccess;
  /** Largest request body read; larger ones get 413. */
  maxBodyBytes: number;
  /** API keys and admin tokens (`/apis/auth.sluice.dev/v1alpha1`); absent: that group answers 404. */
  auth?: Omit<AuthApiDeps, 'maxBodyBytes'>;
}

/**
 * The admin API, in the Kubernetes REST shape so one client serves embedded and cluster mode:
 * `/apis/serving.kserve.io/v1beta1/namespaces/<ns>/inferenceservices[/<name>]` — list, get, create (POST),
 * replace (PUT, creates when absent), delete. Errors are Kubernetes `Status` objects. Lists are paged
 * (`?limit=N&continue=TOKEN`, 500 per page by default) and streamed object by object (admin-list.ts).
 *
 * The runtime catalogue — ClusterServingRuntimes, ServingRuntimes, LocalLaunchRecipes — has the same shape under
 * `/apis/serving.kserve.io/v1alpha1` and `/apis/sluice.dev/v1alpha1` (admin-runtimes.ts).
 *
 * Sluice subresources: `POST …/inferenceservices/<name>/traffic` applies a traffic command (to-revisions,
 * to-latest, canary, tag, remove-tag, promote, rollback) by editing one component's traffic fields (`component`:
 * predictor by default, transformer or explainer) in the stored spec — validated like any spec, refused whole on error — and `GET …/<name>/revisions` lists the revisions with
 * the exact spec each was made from.
 *
 * A create or replace whose spec sets fields that are accepted but not active yet (api/inactive-fields.ts), or
 * odd annotations, is answered with one `Warning: 299 - "…"` header per warning, as the Kubernetes API server does.
 *
 * API keys and admin tokens live under `/apis/auth.sluice.dev/v1alpha1` (deploy/auth/admin-auth-api.ts).
 *
 * `/healthz` and `/readyz` are open; everything else needs the admin token (or a role token allowing the request:
 * deploy/auth/admin-roles.ts) and passes the Host, Origin and
 * media-type checks of admin-guard.ts. A request with `Expect: 100-continue` gets its `100 Continue` only once
 * those checks and the declared length pass.
 */
export function createAdminServer(deps: AdminApiDeps): Server {
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    handle(deps, req, res).catch((err: unknown) => {
      if (!(err instanceof ValidationError) && !(err instanceof HttpError)) deps.logger.error({ err }, 'admin API failure');
      statusForError(res, err);
    });
  };
  const server = deps.tls ? createHttpsServer(deps.tls.options(), serve) : createServer(serve);
  deps.tls?.attach(server as HttpsServer);
  // Without this listener Node answers `100 Continue` by itself, before any check could refuse the request.
  server.on('checkContinue', serve);
  return server;
}

async function handle(deps: AdminApiDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
  if (path === '/readyz') return deps.ready() ? sendJson(res, 200, { status: 'ready' }) : sendStatus(res, 503, 'ServiceUnavailable', 'not ready');
  checkRole(checkAdminRequest(req, deps.access), req.method ?? 'GET', path);
  if (deps.auth && (path === AUTH_GROUP_PATH || path.startsWith(`${AUTH_GROUP_PATH}/`)))
    return handleAuthApi({ ...deps.auth, maxBodyBytes: deps.maxBodyBytes }, path, req, res);
  const runtimeGroup = RUNTIME_GROUP_PATHS.find((g) => path === g || path.startsWith(`${g}/`));
  if (runtimeGroup) return handleRuntimes(deps.runtimes, deps.maxBodyBytes, runtimeGroup, path, url, req, res);
  const group = GROUP_PATHS.find((g) => path === g || path.startsWith(`${g}/`));
  if (!group) return sendStatus(res, 404, 'NotFound', `no API at ${path}`);
  const rest = path.slice(group.length).split('/').filter(Boolean);
  const c = deps.controller;
  const method = req.method ?? 'GET';

  // /inferenceservices (all namespaces)
  if (rest.length === 1 && rest[0] === 'inferenceservices') {
    if (method !== 'GET') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed here`);
    return listServices(c, path, url, res, undefined);
  }
  if (rest[0] !== 'namespaces' || !rest[1] || rest[2] !== 'inferenceservices' || rest.length > 5)
    return sendStatus(res, 404, 'NotFound', `no resource at ${path}`);
  const ns = rest[1];
  const name = rest[3];
  const sub = rest[4];
  if (sub !== undefined && !['status', 'traffic', 'revisions'].includes(sub)) return sendStatus(res, 404, 'NotFound', `no subresource ${sub}`);
  if (name !== undefined && sub === 'traffic') {
    if (method !== 'POST') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on traffic; POST a command`);
    const body = parseBody(await readBody(req, res, deps.maxBodyBytes));
    return sendJson(res, 200, await c.updateTraffic(ns, name, parseTrafficCommand(body), parseTrafficComponent(body)));
  }
  if (name !== undefined && sub === 'revisions') {
    if (method !== 'GET') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on revisions`);
    const revs = c.revisionsOf(ns, name);
    if (!revs) return sendStatus(res, 404, 'NotFound', `inferenceservices "${name}" not found`);
    return sendJson(res, 200, { kind: 'RevisionList', apiVersion: 'serving.sluice.dev/v1beta1', items: revs });
  }

  if (name === undefined) {
    if (method === 'GET') return listServices(c, path, url, res, ns);
    if (method !== 'POST') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on a collection`);
    const doc = await readObject(deps, req, res, ns, undefined);
    if (c.get(ns, doc.name)) return sendStatus(res, 409, 'AlreadyExists', `inferenceservices "${doc.name}" already exists`);
    const r = await c.apply(doc.object, 'api');
    return sendJson(res, 201, r.object, warningHeaders(doc.warnings));
  }

  if (method === 'GET') {
    const obj = c.get(ns, name);
    return obj ? sendJson(res, 200, obj) : sendStatus(res, 404, 'NotFound', `inferenceservices "${name}" not found`);
  }
  if (method === 'PUT') {
    const doc = await readObject(deps, req, res, ns, name);
    const current = c.get(ns, name);
    if (current && doc.resourceVersion && doc.resourceVersion !== current.metadata.resourceVersion)
      return sendStatus(res, 409, 'Conflict', `the object has been modified (resourceVersion ${doc.resourceVersion} is not ${current.metadata.resourceVersion}); read it again and retry`);
    const r = await c.apply(doc.object, 'api');
    return sendJson(res, r.created ? 201 : 200, r.object, warningHeaders(doc.warnings));
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
  deps: AdminApiDeps,
  req: IncomingMessage,
  res: ServerResponse,
  ns: string,
  name: string | undefined,
): Promise<{ object: ReturnType<typeof parseInferenceService>['object']; name: string; resourceVersion: string | undefined; warnings: string[] }> {
  const raw = parseBody(await readBody(req, res, deps.maxBodyBytes));
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
  const { object, warnings } = parseInferenceService(raw);
  return { object, name: object.metadata.name, resourceVersion, warnings };
}

/** Warnings about an accepted spec (inactive fields, odd annotations), as the Kubernetes API server sends them. */
function warningHeaders(warnings: readonly string[]): Record<string, string[]> {
  return warnings.length === 0 ? {} : { warning: warningHeaderValues(warnings) };
}

/** One page of InferenceServices, each with its status computed as it is written. */
function listServices(c: Controller, path: string, url: URL, res: ServerResponse, ns: string | undefined): Promise<void> {
  const page = pageOf(c.keys(ns), pageRequest(url.searchParams, path), path);
  const head = { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceServiceList', resourceVersion: String(c.resourceVersionNow) };
  return streamList(res, head, page, (key) => {
    const slash = key.indexOf('/');
    return c.viewForSerialization(key.slice(0, slash), key.slice(slash + 1));
  });
}
