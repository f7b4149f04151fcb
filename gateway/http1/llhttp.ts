import { createRequire } from 'node:module';

/**
 * Node's own HTTP/1.1 parser (llhttp, the native one node:http uses), reached through the `_http_common` module
 * Node keeps for compatibility. Sluice's data port parses requests with it so that it keeps exactly Node's
 * strictness (request smuggling, obsolete line folding, header size) while handling connections itself
 * (gateway/http1/data-connection.ts). The shape is checked at load: a Node without it gets `null`, and the data
 * port falls back to node:http's server.
 */
export interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParseError;
  finish(): number | ParseError | undefined;
  consume(handle: unknown): void;
  unconsume(): void;
  pause(): void;
  resume(): void;
  close(): void;
  free(): void;
  [callback: number]: unknown;
}

export interface ParseError extends Error {
  code?: string;
  bytesParsed?: number;
  reason?: string;
}

export interface Llhttp {
  Parser: new () => NativeParser;
  REQUEST: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  /** Method names by llhttp's method number. */
  methods: readonly string[];
}

/**
 * The binding in `common` (what `require('_http_common')` gives) if it has the shape Sluice was built against,
 * else null.
 */
export function bindingOf(common: unknown): Llhttp | null {
  const c = common as { HTTPParser?: unknown; methods?: unknown } | null;
  const P = c?.HTTPParser as (Record<string, unknown> & (new () => NativeParser)) | undefined;
  const methods = c?.methods;
  if (typeof P !== 'function' || !Array.isArray(methods)) return null;
  for (const m of ['initialize', 'execute', 'finish', 'consume', 'unconsume', 'pause', 'resume', 'close', 'free'] as const) {
    if (typeof (P.prototype as Record<string, unknown>)[m] !== 'function') return null;
  }
  const num = (k: string): number => (typeof P[k] === 'number' ? (P[k] as number) : NaN);
  const l: Llhttp = {
    Parser: P,
    REQUEST: num('REQUEST'),
    kOnMessageBegin: num('kOnMessageBegin'),
    kOnHeaders: num('kOnHeaders'),
    kOnHeadersComplete: num('kOnHeadersComplete'),
    kOnBody: num('kOnBody'),
    kOnMessageComplete: num('kOnMessageComplete'),
    kOnExecute: num('kOnExecute'),
    methods: methods as string[],
  };
  if (Object.values(l).some((v) => typeof v === 'number' && Number.isNaN(v))) return null;
  // llhttp numbers methods DELETE, GET, HEAD, POST, PUT first; anything else is a parser we do not know.
  if (l.methods[1] !== 'GET' || l.methods[3] !== 'POST') return null;
  return l;
}

function load(): Llhttp | null {
  try {
    return bindingOf(createRequire(import.meta.url)('_http_common'));
  } catch {
    return null;
  }
}

/** The parser binding, or null when this Node does not offer it in the shape Sluice was built against. */
export const llhttp: Llhttp | null = load();
