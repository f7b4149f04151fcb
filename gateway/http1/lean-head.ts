/**
 * The data port's fast path for the common request: a whole HTTP/1.1 or HTTP/1.0 request (head and Content-Length
 * body) at the start of a read, parsed here in JavaScript instead of by llhttp and its five callbacks into
 * JavaScript. It takes only a strict subset of what llhttp takes, and everything else (another version, chunked
 * bodies, `Connection` other than keep-alive or close, upgrades, any byte it is unsure of, a head or body not whole
 * in the read) is left to llhttp, which then decides exactly as before. So the subset needs no error messages of its
 * own: whatever it refuses, llhttp parses or refuses.
 *
 * What it accepts, byte by byte (RFC 9112 §3, §5, §6.2; the same or stricter than llhttp in its strict mode):
 * - a request line `METHOD SP target SP HTTP/1.1 CRLF` (or `HTTP/1.0`), METHOD one of a few (the table passed in),
 *   the target in origin form (`/` then pchar, `/`, `?`: no `#`, no space, no byte outside visible ASCII);
 * - header lines `name ":" OWS value OWS CRLF`, the name a token, the value tab, space and visible ASCII only (no
 *   obs-text, no control bytes, no obs-fold), every line ended by CRLF;
 * - at most one Content-Length of 1–15 digits (no tab after them: llhttp refuses one), no Transfer-Encoding, no
 *   Upgrade, each Connection line exactly `keep-alive` or `close` in any case, without a tab after it (llhttp does
 *   not read the token then);
 * - a head of at most `maxHead` bytes (the caller passes well under llhttp's limit, so that no head near the limit
 *   is judged here).
 */

import { TOKEN_CHAR, decimal, nameIs, owsEnd } from '../../core/http-grammar.js';

/**
 * Token characters: core/http-grammar.ts's table, held in a module constant (read through the import directly, a
 * together A/B gave 1.011 of CPU per request, less in 1 of 12 pairs; this way 0.989, 8 of 12).
 */
const TCHAR = TOKEN_CHAR;
/** Byte classes, by table: field value, request target (token characters are core/http-grammar.ts's). */
const VALUE = 2;
const TARGET = 4;
const CLASS = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c++) CLASS[c] |= VALUE;
CLASS[0x20] |= VALUE;
CLASS[0x09] |= VALUE;
// pchar (unreserved, pct-encoded's '%', sub-delims, ':' '@') with '/' and '?': RFC 3986 path and query.
for (const ch of "-._~%!$&'()*+,;=:@/?0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") CLASS[ch.charCodeAt(0)] |= TARGET;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** The request line's end: ` HTTP/1.` then the minor version (0 or 1) and CRLF. */
const VERSION = ' HTTP/1.';
const VERSION_LINE = VERSION.length + 3;

/** One request the fast path took. The object is reused by every call: read it before the next. */
export interface LeanRequest {
  /** The method's number in the table passed in (llhttp's numbering, in the data port). */
  method: number;
  url: string;
  /** Names and values in turn, as sent (names not lower-cased, values without their surrounding whitespace). */
  headers: string[];
  /** Where the body starts in the buffer, and its length (Content-Length, 0 when absent). */
  bodyFrom: number;
  bodyLength: number;
  /** HTTP/1.0 or HTTP/1.1. */
  minor: 0 | 1;
  /**
   * Whether the connection stays open after this request's answer, as llhttp decides it: HTTP/1.1 unless a
   * Connection line says `close`; HTTP/1.0 only when one says `keep-alive` (then it wins over `close`).
   */
  keepAlive: boolean;
}

const found: LeanRequest = { method: 0, url: '', headers: [], bodyFrom: 0, bodyLength: 0, minor: 1, keepAlive: true };

type Latin1 = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * The request starting at `b[start]` if it is whole in `b` and in the subset above, else null (then llhttp is to
 * parse from `start`). `methods` maps the method names the fast path takes to their numbers.
 */
export function leanRequest(b: Buffer, start: number, maxHead: number, methods: ReadonlyMap<string, number>): LeanRequest | null {
  const end = b.indexOf(HEAD_END, start);
  if (end < 0 || end + 4 - start > maxHead) return null;
  // The head through its last line's CRLF.
  const s = (b as Latin1).latin1Slice(start, end + 2);
  const n = s.length;
  const sp = s.indexOf(' ');
  if (sp <= 0) return null;
  // The common methods by their bytes (no string made and hashed); any other through the table.
  const method = sp === 4 && s.startsWith('POST') ? methods.get('POST') : sp === 3 && s.startsWith('GET') ? methods.get('GET') : methods.get(s.slice(0, sp));
  if (method === undefined) return null;
  let i = sp + 1;
  if (s.charCodeAt(i) !== 0x2f) return null;
  for (i++; i < n; i++) {
    const c = s.charCodeAt(i);
    if ((CLASS[c]! & TARGET) === 0) break;
  }
  if (!s.startsWith(VERSION, i)) return null;
  const m = s.charCodeAt(i + VERSION.length);
  if ((m !== 0x31 && m !== 0x30) || s.charCodeAt(i + VERSION.length + 1) !== 0x0d || s.charCodeAt(i + VERSION.length + 2) !== 0x0a) return null;
  const minor = m === 0x31 ? 1 : 0;
  const url = s.slice(sp + 1, i);
  const headers: string[] = [];
  let length = -1;
  let close = false;
  let keepAliveLine = false;
  i += VERSION_LINE;
  while (i < n) {
    const from = i;
    let c = s.charCodeAt(i);
    while (TCHAR[c] === 1) c = s.charCodeAt(++i);
    if (c !== 0x3a || i === from) return null;
    const name = s.slice(from, i);
    c = s.charCodeAt(++i);
    while (c === 0x20 || c === 0x09) c = s.charCodeAt(++i);
    const valueFrom = i;
    while ((CLASS[c]! & VALUE) !== 0) c = s.charCodeAt(++i);
    if (c !== 0x0d || s.charCodeAt(i + 1) !== 0x0a) return null;
    // Spaces and tabs before the CR are not the value's.
    const valueTo = owsEnd(s, valueFrom, i);
    i += 2;
    const value = s.slice(valueFrom, valueTo);
    const len = name.length;
    if (len === 14 || len === 17 || len === 10 || len === 7) {
      const lower = lowerName(name);
      if (lower === 'content-length') {
        if (length >= 0) return null;
        // llhttp takes spaces after the digits but not a tab.
        if (tabIn(s, valueTo, i - 2)) return null;
        length = decimal(value);
        if (length < 0) return null;
      } else if (lower === 'transfer-encoding' || lower === 'upgrade') return null;
      else if (lower === 'connection') {
        // llhttp does not read a token followed by a tab as that token.
        if (tabIn(s, valueTo, i - 2)) return null;
        const v = value.toLowerCase();
        if (v === 'close') close = true;
        else if (v === 'keep-alive') keepAliveLine = true;
        else return null;
      }
    }
    headers.push(name, value);
  }
  const bodyFrom = end + 4;
  const bodyLength = length < 0 ? 0 : length;
  if (bodyFrom + bodyLength > b.length) return null;
  found.method = method;
  found.url = url;
  found.headers = headers;
  found.bodyFrom = bodyFrom;
  found.bodyLength = bodyLength;
  found.minor = minor;
  found.keepAlive = minor === 1 ? !close : keepAliveLine;
  return found;
}

/** The names the fast path acts on, by length (else the name itself: none of them). */
const ACTS_ON = ['content-length', 'transfer-encoding', 'connection', 'upgrade'];

/**
 * `name` lower-cased if it is one of ACTS_ON in any case (that name, no new string), else `name`. Called only for
 * names of those lengths.
 */
function lowerName(name: string): string {
  for (const known of ACTS_ON) if (known.length === name.length && nameIs(name, 0, known)) return known;
  return name;
}

/** Whether s[from, to) holds a tab. */
function tabIn(s: string, from: number, to: number): boolean {
  for (let k = from; k < to; k++) if (s.charCodeAt(k) === 0x09) return true;
  return false;
}
