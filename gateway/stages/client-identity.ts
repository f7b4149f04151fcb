import ipaddr from 'ipaddr.js';
import { AttributeKey, type Exchange } from '../exchange.js';

/**
 * Who a request comes from, for per-client limits and allowlists. The address is the socket's peer, or, behind
 * `trustedProxyHops` proxies, the address the outermost trusted proxy saw: `X-Forwarded-For` is read from the
 * right, one entry per trusted hop, so entries a client wrote itself (left of what the trusted proxies appended)
 * are never believed. With 0 trusted hops (the default) `X-Forwarded-For` is ignored. IPv4-mapped IPv6 addresses
 * (`::ffff:10.1.2.3`) are read as IPv4.
 */
export const CLIENT_ADDRESS = new AttributeKey<string>('clientAddress');

/**
 * The seam for the auth stage: the id of the API key (or another stable principal id) a request authenticated
 * with. Per-client limits count by it, when set, instead of by address. The auth stage sets it in its hook, and
 * must be composed before the stages that count per client (cli/wiring.ts).
 */
export const CALLER_KEY_ID = new AttributeKey<string>('callerKeyId');

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * `a.b.c.d` for IPv4 and IPv4-mapped IPv6, the canonical text otherwise; the input when it does not parse.
 * Dotted IPv4, plain or mapped, is read without ipaddr.js, whose parse tries IPv6 first and throws (an exception
 * per request cost the gateway a large share of its throughput).
 */
export function normalizeAddress(address: string): string {
  let a = address.trim();
  if (IPV4.test(a)) return a;
  if (a.startsWith('::ffff:') && IPV4.test(a.slice(7))) return a.slice(7);
  if (a.startsWith('[')) a = a.slice(1, a.indexOf(']') > 0 ? a.indexOf(']') : undefined);
  try {
    const parsed = ipaddr.parse(a);
    if (parsed.kind() === 'ipv6') {
      const v6 = parsed as ipaddr.IPv6;
      return v6.isIPv4MappedAddress() ? v6.toIPv4Address().toString() : v6.toString();
    }
    return parsed.toString();
  } catch {
    return a;
  }
}

/** The client's address after `trustedHops` proxies (see CLIENT_ADDRESS). */
export function clientAddress(peer: string, forwardedFor: string | string[] | undefined, trustedHops: number): string {
  if (trustedHops <= 0 || forwardedFor === undefined) return normalizeAddress(peer);
  const chain = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  // [client?, …, proxy1, …, proxyN-1] + peer: the peer is the last trusted proxy; each further trusted hop vouches
  // for one more entry from the right. The entry right of the last vouched one is the client.
  chain.push(peer);
  const index = Math.max(0, chain.length - 1 - trustedHops);
  return normalizeAddress(chain[index]!);
}

/** The normalised peer address of each connection and its client key, read once per connection (keep-alive). */
const peers = new WeakMap<object, { address: string; key: string }>();

function peerOf(socket: object & { remoteAddress?: string }): { address: string; key: string } {
  let p = peers.get(socket);
  if (p === undefined) {
    const address = normalizeAddress(socket.remoteAddress ?? '');
    p = { address, key: `ip:${address}` };
    peers.set(socket, p);
  }
  return p;
}

/** The exchange's client address (computed once per request, the peer's once per connection). */
export function clientAddressOf(ex: Exchange, trustedHops: number): string {
  let a = ex.get(CLIENT_ADDRESS);
  if (a !== undefined) return a;
  const socket = ex.req.socket;
  const xff = ex.req.headers['x-forwarded-for'];
  if (trustedHops > 0 && xff !== undefined) a = clientAddress(socket.remoteAddress ?? '', xff, trustedHops);
  else a = peerOf(socket).address;
  ex.set(CLIENT_ADDRESS, a);
  return a;
}

/** What per-client limits count by: the caller's key id when the auth stage set one, else its address. */
export function clientKeyOf(ex: Exchange, trustedHops: number): string {
  const key = ex.get(CALLER_KEY_ID);
  if (key !== undefined) return `key:${key}`;
  // The connection's own string when the address is the peer's (the common case: no trusted proxy in between).
  if (trustedHops <= 0 || ex.req.headers['x-forwarded-for'] === undefined) return peerOf(ex.req.socket).key;
  return `ip:${clientAddressOf(ex, trustedHops)}`;
}
