/**
 * The admin API's runtime catalogue, in the Kubernetes REST shape:
 *   /apis/serving.kserve.io/v1alpha1/clusterservingruntimes[/<name>]
 *   /apis/serving.kserve.io/v1alpha1/namespaces/<ns>/servingruntimes[/<name>]   (and …/servingruntimes, all namespaces)
 *   /apis/sluice.dev/v1alpha1/locallaunchrecipes[/<name>]
 * Collections list (paged, streamed — admin-list.ts); objects get, PUT (create or replace) and DELETE.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RUNTIME_API_VERSION, SLUICE_API_VERSION } from '../api/servingruntime.js';
import { parseBody, readBody } from './admin-body.js';
import { pageOf, pageRequest, streamList } from './admin-list.js';
import { sendJson, sendStatus } from './admin-response.js';
import { RUNTIME_RESOURCES, runtimeKey, type RuntimeRegistry, type RuntimeResource } from './runtime-registry.js';

export const RUNTIME_GROUP_PATHS = [`/apis/${RUNTIME_API_VERSION}`, `/apis/${SLUICE_API_VERSION}`];

interface Target {
  resource: RuntimeResource;
  namespace: string | null;
  name: string | undefined;
}

/** Which resource a path under one of RUNTIME_GROUP_PATHS names, or null. */
function target(group: string, rest: string[]): Target | null {
  const inGroup = (r: RuntimeResource): boolean => `/apis/${RUNTIME_RESOURCES[r].apiVersion}` === group;
  const res = (s: string | undefined): RuntimeResource | null =>
    s !== undefined && s in RUNTIME_RESOURCES && inGroup(s as RuntimeResource) ? (s as RuntimeResource) : null;
  if (rest[0] === 'namespaces' && rest[1] && rest.length <= 4) {
    const r = res(rest[2]);
    return r && RUNTIME_RESOURCES[r].namespaced ? { resource: r, namespace: rest[1], name: rest[3] } : null;
  }
  const r = res(rest[0]);
  if (!r || rest.length > 2) return null;
  // `…/servingruntimes` without a namespace lists every namespace; it names no single object.
  if (RUNTIME_RESOURCES[r].namespaced && rest.length > 1) return null;
  return { resource: r, namespace: null, name: rest[1] };
}

export async function handleRuntimes(
  registry: RuntimeRegistry,
  maxBodyBytes: number,
  group: string,
  path: string,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const t = target(group, path.slice(group.length).split('/').filter(Boolean));
  if (!t) return sendStatus(res, 404, 'NotFound', `no resource at ${path}`);
  const spec = RUNTIME_RESOURCES[t.resource];
  const method = req.method ?? 'GET';
  if (t.name === undefined) {
    if (method !== 'GET') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on a collection; PUT each object at its own URL`);
    const list = path;
    const page = pageOf(registry.keys(t.resource, t.namespace ?? undefined), pageRequest(url.searchParams, list), list);
    const head = { apiVersion: spec.apiVersion, kind: `${spec.kind}List`, resourceVersion: String(registry.resourceVersionNow) };
    return streamList(res, head, page, (key) => registry.get(t.resource, key));
  }
  const key = runtimeKey(t.resource, t.namespace, t.name);
  const notFound = (): void => sendStatus(res, 404, 'NotFound', `${t.resource} "${t.name}" not found`);
  if (method === 'GET') {
    const doc = registry.get(t.resource, key);
    return doc ? sendJson(res, 200, doc) : notFound();
  }
  if (method === 'PUT') {
    const body = parseBody(await readBody(req, res, maxBodyBytes));
    const r = await registry.put(t.resource, t.namespace, t.name, body);
    return sendJson(res, r.created ? 201 : 200, r.object);
  }
  if (method === 'DELETE') {
    if (!(await registry.delete(t.resource, key))) return notFound();
    return sendJson(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: t.name, kind: t.resource } });
  }
  return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on a ${spec.kind}`);
}
