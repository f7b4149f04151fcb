/**
 * Who may call the admin API, and in what form. Applying an InferenceService runs processes as the serving user
 * (as `kubectl apply` does on a cluster), so every `/apis` request must come from a client holding the admin token,
 * addressed to this listener by a name a browser page cannot rebind (Host), not sent by a page of another origin
 * (Origin), and a body must be JSON or YAML declared as such — never a form or `text/plain`, which a browser sends
 * cross-site without a CORS preflight. docs/security.md explains the rules.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from '../core/errors.js';
import type { AdminCaller, AdminRole } from './auth/admin-roles.js';

/** Media types accepted for request bodies (parameters such as `; charset=utf-8` are ignored). */
export const BODY_MEDIA_TYPES = ['application/json', 'application/yaml', 'application/x-yaml'] as const;
export type BodyMediaType = (typeof BODY_MEDIA_TYPES)[number];

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface AdminAccess {
  /** The bearer token every `/apis` request must carry. */
  token: string;
  /** Host names (lower case, no port; IPv6 in brackets) accepted besides loopback names and the connection's own address. */
  allowedHosts: ReadonlySet<string>;
  /** More tokens, each with a role, by SHA-256 hash (deploy/auth/admin-roles.ts); `token` itself is `admin`. */
  roleTokens?: { byHash(hash: string): { name: string; role: AdminRole } | undefined };
}

/** The host names an admin listener on `adminHost` accepts besides loopback names: its own name and `extra` (comma-separated). */
export function allowedHostNames(adminHost: string, extra: string): Set<string> {
  const names = new Set<string>();
  const wildcard = adminHost === '' || adminHost === '0.0.0.0' || adminHost === '::' || adminHost === '[::]';
  for (const h of [...(wildcard ? [] : [adminHost]), ...extra.split(',')]) {
    const n = hostName(h.trim().includes(':') && !h.trim().startsWith('[') ? `[${h.trim()}]` : h.trim());
    if (n) names.add(n);
  }
  return names;
}

/** True for a loopback listen address: the admin API is then reachable from this machine only. */
export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `host[:port]` → its host name as the URL parser normalises it (lower case, IPv6 in brackets), or null. */
function hostName(hostAndPort: string): string | null {
  if (!hostAndPort) return null;
  try {
    return new URL(`http://${hostAndPort}`).hostname || null;
  } catch {
    return null;
  }
}

/** The address a connection came to, in URL host-name form (`127.0.0.1`, `[::1]`). */
function localAddressName(req: IncomingMessage): string | null {
  const a = req.socket.localAddress;
  if (!a) return null;
  const v4 = a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
  return hostName(v4.includes(':') ? `[${v4}]` : v4);
}

/**
 * Refuses (throws HttpError) a request that is not addressed to this listener (DNS rebinding), comes from a page
 * of another origin, or lacks the admin token. Health and readiness are not checked here.
 */
export function checkAdminRequest(req: IncomingMessage, access: AdminAccess): AdminCaller {
  const hostHeader = req.headers.host;
  const host = hostHeader === undefined ? null : hostName(hostHeader);
  if (host === null) throw new HttpError(403, 'the admin API needs a Host header naming this server');
  if (!LOOPBACK_NAMES.has(host) && !access.allowedHosts.has(host) && host !== localAddressName(req))
    throw new HttpError(
      403,
      `Host "${hostHeader}" is not a name of this admin API (loopback names, its listen address, or a name in adminAllowedHosts are); refused so that a web page cannot reach it through DNS rebinding`,
    );
  const origin = req.headers.origin;
  if (origin !== undefined && !sameOrigin(origin, hostHeader!))
    throw new HttpError(403, `Origin "${origin}" is not this admin API's origin; requests from web pages of other sites are refused`);
  const auth = req.headers.authorization;
  if (auth === undefined)
    throw new HttpError(401, 'the admin API needs a token: send "Authorization: Bearer <token>"', { 'www-authenticate': 'Bearer realm="sluice-admin"' });
  const m = /^Bearer +(\S+) *$/i.exec(auth);
  if (m && tokensEqual(m[1]!, access.token)) return { role: 'admin', subject: 'admin-token' };
  const other = m && access.roleTokens ? access.roleTokens.byHash(createHash('sha256').update(m[1]!).digest('hex')) : undefined;
  if (other) return { role: other.role, subject: `token:${other.name}` };
  throw new HttpError(401, 'the admin token sent is not the one this server accepts', { 'www-authenticate': 'Bearer realm="sluice-admin", error="invalid_token"' });
}

function sameOrigin(origin: string, hostHeader: string): boolean {
  try {
    const o = new URL(origin);
    return (o.protocol === 'http:' || o.protocol === 'https:') && o.host === new URL(`${o.protocol}//${hostHeader}`).host;
  } catch {
    return false; // "null" (sandboxed frames, file: pages) and anything unparsable
  }
}

/** Compares in time independent of where the two differ (both are hashed to the same length first). */
export function tokensEqual(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The body's declared media type if it is one the admin API reads; else a 415 naming the accepted types. */
export function bodyMediaType(req: IncomingMessage): BodyMediaType {
  const declared = req.headers['content-type'];
  const type = (declared ?? '').split(';')[0]!.trim().toLowerCase();
  if ((BODY_MEDIA_TYPES as readonly string[]).includes(type)) return type as BodyMediaType;
  throw new HttpError(
    415,
    `${declared === undefined ? 'the request has no Content-Type' : `Content-Type "${declared}" is not accepted`}; send the body as ${BODY_MEDIA_TYPES.join(', ')}`,
  );
}
