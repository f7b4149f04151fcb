import type { IncomingMessage } from 'node:http';

/** Headers that belong to one hop and are never forwarded, either way (RFC 9110 §7.6.1, plus legacy ones). */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
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
 * Request headers of the client a stage keeps from the replica (the auth stage: the client's credentials and
 * identity headers), chosen before the upstream headers are built, so that they are never put into the header
 * object: deleting a property from it afterwards turns it into a slow dictionary-mode object, which costs more
 * every time it is read (by the stages and by undici). Make one per set of names, once (`upstreamDrop`), and
 * put it on the exchange (`Exchange.upstreamDrop`).
 */
export interface UpstreamDrop {
  /** The names (lower case). */
  readonly names: ReadonlySet<string>;
  /** The names and the hop-by-hop headers: what an HTTP/1.1 forward leaves out, one lookup per header. */
  readonly withHopByHop: ReadonlySet<string>;
}

/** An UpstreamDrop for these (lower-case) header names. */
export function upstreamDrop(names: readonly string[]): UpstreamDrop {
  return { names: new Set(names), withHopByHop: new Set([...HOP_BY_HOP, ...names]) };
}

/**
 * A replica's response head on its way to the client unchanged, as a stage sees it when no stage asked for the
 * head as an object (Stage.onResponseHead): it may read a field and add one, not change or remove the replica's.
 */
export interface PassedHead {
  /** The value of the field named `name` (lower case; several fields' values joined by ", "), or undefined. */
  get(name: string): string | undefined;
  /**
   * Adds a field after the replica's. `name` must be an HTTP token and `value` free of control characters: they are
   * written as they are, not checked again.
   */
  add(name: string, value: string): void;
}

/**
 * Header names a `Connection` header lists as belonging to this hop, or null when it lists none beyond
 * `keep-alive`/`close` (the common case, which costs one comparison and allocates nothing).
 */
export function connectionListed(value: string | string[] | undefined): string[] | null {
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
 * scheme and host; Sluice speaks plain HTTP, so its own hop is always `http`). Headers named in `drop` are left out.
 */
export function upstreamRequestHeaders(req: IncomingMessage, drop: UpstreamDrop | null = null): Record<string, string | string[]> {
  const h = req.headers;
  const out = endToEnd(h, drop === null ? HOP_BY_HOP : drop.withHopByHop);
  const client = req.socket.remoteAddress;
  if (client !== undefined) {
    const xff = h['x-forwarded-for'];
    out['x-forwarded-for'] = xff ? `${xff}, ${client}` : client;
  }
  if (h['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = 'http';
  if (h['x-forwarded-host'] === undefined && h.host !== undefined) out['x-forwarded-host'] = h.host;
  return out;
}

/**
 * What `upstreamRequestHeaders` gives, written out as field lines (each ending in CRLF), straight from the client's
 * header object without a copy of it: the same fields in the same order, less `content-length` (the caller frames
 * the body it sends), then `host: <replicaHost>` when the client's Host does not go on (an HTTP/1.0 client sent
 * none, or its Connection field named it), as `requestWire` adds it. For a request whose fields a strict parser gave
 * (Sluice's own data port: names are tokens, values free of control characters, so nothing is checked again) and
 * no stage sees on their way (`Stage.onUpstreamHeaders`).
 */
export function upstreamRequestLines(req: IncomingMessage, drop: UpstreamDrop | null, replicaHost: string): string {
  const h = req.headers;
  const skip = drop === null ? HOP_BY_HOP : drop.withHopByHop;
  const listed = connectionListed(h.connection);
  const client = req.socket.remoteAddress;
  let out = '';
  let forwardedFor = false;
  let host = false;
  for (const k in h) {
    if (skip.has(k) || k === 'content-length' || (listed !== null && listed.includes(k))) continue;
    const v = h[k];
    if (typeof v === 'string') {
      if (k === 'host') host = true;
      if (k === 'x-forwarded-for' && client !== undefined) {
        forwardedFor = true;
        out += 'x-forwarded-for: ' + (v === '' ? client : v + ', ' + client) + '\r\n';
      } else out += k + ': ' + v + '\r\n';
    } else if (v !== undefined) for (const one of v) out += k + ': ' + one + '\r\n';
  }
  if (!forwardedFor && client !== undefined) {
    const xff = h['x-forwarded-for'];
    out += 'x-forwarded-for: ' + (xff ? `${xff}, ${client}` : client) + '\r\n';
  }
  if (h['x-forwarded-proto'] === undefined) out += 'x-forwarded-proto: http\r\n';
  if (h['x-forwarded-host'] === undefined && h.host !== undefined) out += 'x-forwarded-host: ' + h.host + '\r\n';
  return host ? out : out + 'host: ' + replicaHost + '\r\n';
}

/** The replica's response headers for the client, in one pass: hop-by-hop ones and those its `Connection` lists dropped. */
export function clientResponseHeaders(h: Headers): Record<string, string | string[]> {
  return endToEnd(h, HOP_BY_HOP);
}

/**
 * The replica's response headers for the client from the raw name/value pairs of Sluice's own upstream client
 * (gateway/upstream-client.ts), as an object: the fields `clientResponsePairs` keeps, repeated ones (set-cookie)
 * kept as arrays. A header named `__proto__` is dropped (it cannot be an own property of a plain object).
 */
export function clientResponseHeadersRaw(raw: readonly string[]): Record<string, string | string[]> {
  const pairs = clientResponsePairs(raw);
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < pairs.length; i += 2) {
    const k = pairs[i]!;
    if (k === '__proto__') continue;
    const v = pairs[i + 1]!;
    const prev = out[k];
    if (prev === undefined || !Object.prototype.hasOwnProperty.call(out, k)) out[k] = v;
    else if (typeof prev === 'string') out[k] = [prev, v];
    else prev.push(v);
  }
  return out;
}

/**
 * The replica's response headers for the client as name/value pairs, from the raw pairs of Sluice's own upstream
 * client: names lower-cased, hop-by-hop ones and those its `Connection` lists dropped, the rest in the order the
 * replica sent them (repeated names stay separate pairs): what `clientResponseHeadersRaw` gathers into an object. (A
 * head that goes on without an object is cut by `ResponseHead.passOn` in gateway/upstream-client.ts instead.)
 */
export function clientResponsePairs(raw: readonly string[]): string[] {
  const listed = connectionListedRaw(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(k) || (listed !== null && listed.includes(k))) continue;
    out.push(k, raw[i + 1]!);
  }
  return out;
}

/** The names the `Connection` headers among raw pairs list (beyond keep-alive and close), or null. */
function connectionListedRaw(raw: readonly string[]): string[] | null {
  let listed: string[] | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && raw[i]!.toLowerCase() === 'connection') {
      const more = connectionListed(raw[i + 1]);
      if (more !== null) (listed ??= []).push(...more);
    }
  }
  return listed;
}

/** A copy of `h` without the headers in `skip` (the hop-by-hop ones, at least) and those its own `Connection` header lists (one pass). */
function endToEnd(h: Headers | IncomingMessage['headers'], skip: ReadonlySet<string>): Record<string, string | string[]> {
  const listed = connectionListed(h.connection);
  const out: Record<string, string | string[]> = {};
  for (const k in h) {
    if (skip.has(k) || (listed !== null && listed.includes(k))) continue;
    const v = h[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}
