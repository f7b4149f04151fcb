/**
 * `sluice auth keys create|list|revoke` (data-plane API keys) and `sluice auth tokens create|list|revoke` (admin
 * tokens with a role), through the admin API (`/apis/auth.sluice.dev/v1alpha1`; the admin role only).
 * A created key or token is printed once, on stdout alone (so it can be captured); it cannot be shown again.
 */
import { adminClientFor, type AdminTarget } from './admin-credentials.js';
import type { Io } from './commands.js';
import { age, checkFormat, printObjects, table } from './output.js';

export type AuthResource = 'keys' | 'tokens';
/** Cluster mode: the Redis the gateways share, written directly (no admin API there). */
export interface RedisTarget {
  redisUrl?: string;
}

type RedisKeys = import('../deploy/auth/redis-api-keys.js').RedisApiKeys;

async function viaRedis<T>(url: string, fn: (k: RedisKeys) => Promise<T>): Promise<T> {
  const [{ RedisApiKeys }, { SystemClock }, { silentLogger }] = await Promise.all([
    import('../deploy/auth/redis-api-keys.js'),
    import('../core/clock.js'),
    import('../core/log.js'),
  ]);
  const k = new RedisApiKeys({ url, clock: new SystemClock(), logger: silentLogger(), max: Number(process.env.SLUICE_MAX_API_KEYS ?? 10_000) });
  try {
    return await fn(k);
  } finally {
    await k.close();
  }
}

async function redisCreate(k: RedisKeys, body: { name: string; scopes?: string[] }): Promise<Record<string, unknown>> {
  const { parseApiKeyRequest, formatScope } = await import('../api/api-keys.js');
  const parsed = parseApiKeyRequest(body);
  if (Array.isArray(parsed)) throw new Error(parsed.map((i) => `${i.path}: ${i.message}`).join('\n'));
  const { key, record } = await k.create(parsed.name, parsed.scopes);
  return { id: record.id, name: record.name, scopes: record.scopes.map(formatScope), createdAt: record.createdAt, key };
}
const PATH: Record<AuthResource, string> = { keys: 'apikeys', tokens: 'tokens' };

export async function authCreate(
  io: Io,
  resource: AuthResource,
  name: string,
  o: AdminTarget & RedisTarget & { scope?: string[]; role?: string; output?: string },
): Promise<void> {
  const format = o.output === undefined ? undefined : checkFormat(o.output, false);
  if (resource === 'keys' && (o.scope === undefined || o.scope.length === 0))
    throw new Error('give the namespaces or services the key may call: --scope <namespace>[/<service>] (repeatable), or --scope "*" for all');
  if (resource === 'tokens' && o.role === undefined) throw new Error('give the token a role: --role viewer|operator|admin');
  const body = resource === 'keys' ? { name, scopes: o.scope } : { name, role: o.role };
  const r = o.redisUrl !== undefined && resource === 'keys' ? await viaRedis(o.redisUrl, (k) => redisCreate(k, body)) : await adminClientFor(o).authApi('POST', PATH[resource], body);
  const secret = resource === 'keys' ? r.key : r.token;
  if (format !== undefined) {
    io.out(printObjects([r], format, false));
    return;
  }
  io.out(`${String(secret)}\n`);
  const what = resource === 'keys' ? `API key ${String(r.id)} (${name}) for ${(r.scopes as string[]).join(', ')}` : `admin token ${String(r.id)} (${name}) with role ${String(r.role)}`;
  io.err(`created ${what}; it is shown only now, keep it safe (revoke: sluice auth ${resource} revoke ${String(r.id)})\n`);
}

export async function authList(io: Io, resource: AuthResource, o: AdminTarget & RedisTarget & { output?: string }): Promise<void> {
  const format = checkFormat(o.output, true);
  const r =
    o.redisUrl !== undefined && resource === 'keys'
      ? { items: await viaRedis(o.redisUrl, async (k) => (await k.list()).map((x) => ({ id: x.id, name: x.name, scopes: x.scopes.map((sc) => (sc.service ? `${sc.namespace}/${sc.service}` : sc.namespace)), createdAt: x.createdAt }))) }
      : await adminClientFor(o).authApi('GET', PATH[resource]);
  const items = (r.items as Array<Record<string, unknown>>) ?? [];
  if (format !== 'table' && format !== 'wide') {
    io.out(printObjects(items, format, true));
    return;
  }
  if (items.length === 0) {
    io.err(`no ${resource === 'keys' ? 'API keys' : 'admin tokens'}\n`);
    return;
  }
  const rows = items.map((i) =>
    resource === 'keys'
      ? [String(i.id), String(i.name), (i.scopes as string[]).join(','), age(i.createdAt)]
      : [String(i.id), String(i.name), String(i.role), age(i.createdAt)],
  );
  io.out(table(['ID', 'NAME', resource === 'keys' ? 'SCOPES' : 'ROLE', 'AGE'], rows));
}

export async function authRevoke(io: Io, resource: AuthResource, id: string, o: AdminTarget & RedisTarget): Promise<void> {
  if (o.redisUrl !== undefined && resource === 'keys') {
    if (!(await viaRedis(o.redisUrl, (k) => k.revoke(id)))) throw new Error(`apikeys "${id}" not found in ${o.redisUrl}`);
  } else await adminClientFor(o).authApi('DELETE', `${PATH[resource]}/${encodeURIComponent(id)}`);
  io.out(`${resource === 'keys' ? 'API key' : 'admin token'} ${id} revoked\n`);
}
