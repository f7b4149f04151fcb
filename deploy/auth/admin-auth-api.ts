/**
 * `/apis/auth.sluice.dev/v1alpha1`: data-plane API keys and admin tokens, for the `admin` role only.
 * - `GET …/apikeys` lists keys (id, name, scopes, createdAt; never a key or its hash);
 * - `POST …/apikeys` `{name, scopes}` creates one and answers it with its `key`, the only time it is shown;
 * - `DELETE …/apikeys/<id>` revokes one: every gateway of this process refuses it from the answer on;
 * - the same under `…/tokens` for admin tokens (`{name, role}`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formatScope, newApiKey, parseApiKeyRequest, type ApiKeyRecord } from '../../api/api-keys.js';
import type { Clock } from '../../core/clock.js';
import { ValidationError } from '../../core/errors.js';
import { parseBody, readBody } from '../admin-body.js';
import { sendJson, sendStatus } from '../admin-response.js';
import { ADMIN_ROLES, newAdminToken, type AdminRole, type AdminTokenRecord } from './admin-roles.js';
import type { CredentialFile } from './credential-file.js';

export const AUTH_GROUP_PATH = '/apis/auth.sluice.dev/v1alpha1';
const API_VERSION = 'auth.sluice.dev/v1alpha1';
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export interface AuthApiDeps {
  clock: Clock;
  apiKeys: CredentialFile<ApiKeyRecord>;
  adminTokens: CredentialFile<AdminTokenRecord>;
  maxBodyBytes: number;
}

function keyView(r: ApiKeyRecord): Record<string, unknown> {
  return { kind: 'ApiKey', apiVersion: API_VERSION, id: r.id, name: r.name, scopes: r.scopes.map(formatScope), createdAt: r.createdAt };
}

function tokenView(r: AdminTokenRecord): Record<string, unknown> {
  return { kind: 'AdminToken', apiVersion: API_VERSION, id: r.id, name: r.name, role: r.role, createdAt: r.createdAt };
}

export async function handleAuthApi(deps: AuthApiDeps, path: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const rest = path.slice(AUTH_GROUP_PATH.length).split('/').filter(Boolean);
  const method = req.method ?? 'GET';
  const [resource, id, more] = rest;
  if ((resource !== 'apikeys' && resource !== 'tokens') || more !== undefined) return sendStatus(res, 404, 'NotFound', `no resource at ${path}; try ${AUTH_GROUP_PATH}/apikeys or /tokens`);
  const keys = resource === 'apikeys';
  const store = keys ? deps.apiKeys : deps.adminTokens;
  if (id === undefined) {
    if (method === 'GET') {
      const items = keys ? deps.apiKeys.list().map(keyView) : deps.adminTokens.list().map(tokenView);
      return sendJson(res, 200, { kind: keys ? 'ApiKeyList' : 'AdminTokenList', apiVersion: API_VERSION, items });
    }
    if (method !== 'POST') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed on ${resource}; GET lists, POST creates`);
    const body = parseBody(await readBody(req, res, deps.maxBodyBytes));
    const now = new Date(deps.clock.now());
    if (keys) {
      const parsed = parseApiKeyRequest(body);
      if (Array.isArray(parsed)) throw new ValidationError(parsed, 'invalid API key request');
      const { key, record } = newApiKey(parsed.name, parsed.scopes, now);
      await deps.apiKeys.add(record);
      return sendJson(res, 201, { ...keyView(record), key });
    }
    const { name, role } = (typeof body === 'object' && body !== null ? body : {}) as { name?: unknown; role?: unknown };
    const issues = [];
    if (typeof name !== 'string' || !NAME.test(name)) issues.push({ path: 'name', message: 'expected a DNS label (a-z, 0-9, -; at most 63 characters)' });
    if (typeof role !== 'string' || !(ADMIN_ROLES as readonly string[]).includes(role)) issues.push({ path: 'role', message: `expected one of ${ADMIN_ROLES.join(', ')}` });
    if (issues.length > 0) throw new ValidationError(issues, 'invalid admin token request');
    const { token, record } = newAdminToken(name as string, role as AdminRole, now);
    await deps.adminTokens.add(record);
    return sendJson(res, 201, { ...tokenView(record), token });
  }
  if (method === 'GET') {
    const r = store.get(id);
    if (!r) return sendStatus(res, 404, 'NotFound', `${resource} "${id}" not found`);
    return sendJson(res, 200, keys ? keyView(r as ApiKeyRecord) : tokenView(r as AdminTokenRecord));
  }
  if (method !== 'DELETE') return sendStatus(res, 405, 'MethodNotAllowed', `${method} is not allowed here; DELETE revokes`);
  if (!(await store.remove(id))) return sendStatus(res, 404, 'NotFound', `${resource} "${id}" not found`);
  return sendJson(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: id, kind: resource } });
}
