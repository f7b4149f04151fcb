import type { IncomingMessage } from 'node:http';

/** Headers that belong to one hop and are never forwarded, either way (RFC 9110 §7.6.1, plus legacy ones). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

type Headers = Record<string, string | string[] | undefined>;

/**
 * Header names a `Connection` header lists as belonging to this hop, or null when it lists none beyond
 * `keep-alive`/`close` (the common case, which costs one comparison and allocates nothing).
 */
function connectionListed(value: string | string[] | undefined): string[] | null {
  if (value === undefined) return null;
  if (typeof value === 'string') {
    const v = value.length <= 10 ? value.toLowerCase() : '';
    if (v === 'keep-alive' || v === 'close') return null;
  }
  const names = (Array.isArray(value) ? value.join(',') : value)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '' && t !== 'keep-alive' && t !== 'close');
  return names.length > 0 ? names : null;
}

/**
 * The headers sent to a replica, in one pass over the client's: hop-by-hop ones and those the client's
 * `Connection` lists are dropped; the client's address is appended to `X-Forwarded-For`; `X-Forwarded-Proto`
 * and `X-Forwarded-Host` are set unless a proxy in front of Sluice set them already (it knows the original
 * scheme and host; Sluice speaks plain HTTP, so its own hop is always `http`).
 */
export function upstreamRequestHeaders(req: IncomingMessage): Record<string, string | string[]> {
  const h = req.headers;
  const out = endToEnd(h);
  const client = req.socket.remoteAddress;
  if (client !== undefined) {
    const xff = h['x-forwarded-for'];
    out['x-forwarded-for'] = xff ? `${xff}, ${client}` : client;
  }
  if (h['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = 'http';
  if (h['x-forwarded-host'] === undefined && h.host !== undefined) out['x-forwarded-host'] = h.host;
  return out;
}

/** The replica's response headers for the client, in one pass: hop-by-hop ones and those its `Connection` lists dropped. */
export function clientResponseHeaders(h: Headers): Record<string, string | string[]> {
  return endToEnd(h);
}

/** A copy of `h` without hop-by-hop headers and those its own `Connection` header lists (one pass). */
function endToEnd(h: Headers | IncomingMessage['headers']): Record<string, string | string[]> {
  const listed = connectionListed(h.connection);
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    if (HOP_BY_HOP.has(k) || (listed !== null && listed.includes(k))) continue;
    const v = h[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
