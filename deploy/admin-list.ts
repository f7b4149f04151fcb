/**
 * Lists of the admin API: Kubernetes-style pages (`?limit=N&continue=TOKEN`) written item by item.
 *
 * A page is chosen by key: the continue token carries the list it belongs to and the last key written, and the
 * next page starts after that key in sorted order. Objects created or deleted between pages therefore never
 * make a page repeat or skip an object that existed throughout (an object created behind the cursor is simply
 * not in this pass). Nothing expires; a token that does not decode, or belongs to another list, gets 400.
 *
 * The answer is streamed: the list's head, then each object — read (status computed) and serialized only when
 * its turn comes, in pieces that pass long strings through rather than copying them (json-pieces.ts) — written to the socket, waiting for `drain` whenever the socket's buffer is full and yielding
 * to the event loop between objects, so the data plane keeps answering and memory holds about one object per
 * list in flight, whatever the page size. Concurrent lists share one queue of turns: one object of all of them
 * per event-loop turn, so four lists at once cost the data plane no more per turn than one.
 */
import type { ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { HttpError } from '../core/errors.js';
import { jsonPieces } from './json-pieces.js';

/** Page size when a request gives no `limit` (kubectl's own chunk size). */
export const DEFAULT_PAGE_SIZE = 500;

export interface PageRequest {
  limit: number;
  /** Start after this key; null from the beginning. */
  after: string | null;
}

export interface Page {
  keys: string[];
  /** Token for the next page; null on the last page. */
  continueToken: string | null;
  /** Objects after this page (at the time it was chosen). */
  remaining: number;
}

/** The list head's fixed part. */
export interface ListHead {
  apiVersion: string;
  kind: string;
  resourceVersion: string;
}

interface TokenBody {
  /** The list the token belongs to (its path). */
  l: string;
  /** The last key written. */
  k: string;
}

export function continueToken(list: string, lastKey: string): string {
  const body: TokenBody = { l: list, k: lastKey };
  return Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** `limit` and `continue` of a list request; 400 naming the parameter when either is unusable. */
export function pageRequest(query: URLSearchParams, list: string): PageRequest {
  const rawLimit = query.get('limit');
  let limit = DEFAULT_PAGE_SIZE;
  if (rawLimit !== null && rawLimit !== '') {
    if (!/^\d{1,9}$/.test(rawLimit) || Number(rawLimit) < 1)
      throw new HttpError(400, `limit must be a positive integer (objects per page), got "${rawLimit.slice(0, 40)}"`);
    limit = Number(rawLimit);
  }
  const token = query.get('continue');
  if (token === null || token === '') return { limit, after: null };
  return { limit, after: decodeToken(token, list) };
}

function decodeToken(token: string, list: string): string {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    body = null;
  }
  const ok = (b: unknown): b is TokenBody =>
    typeof b === 'object' && b !== null && typeof (b as TokenBody).l === 'string' && typeof (b as TokenBody).k === 'string';
  if (!ok(body))
    throw new HttpError(400, 'the continue token is not valid (it is not one this server made); start the list again without continue');
  if (body.l !== list)
    throw new HttpError(400, `the continue token belongs to the list ${body.l}, not ${list}; start the list again without continue`);
  return body.k;
}

/** The keys of one page, from every key of the list (any order). */
export function pageOf(allKeys: Iterable<string>, req: PageRequest, list: string): Page {
  const after: string[] = [];
  for (const k of allKeys) if (req.after === null || k > req.after) after.push(k);
  after.sort();
  const keys = after.slice(0, req.limit);
  const remaining = after.length - keys.length;
  return { keys, remaining, continueToken: remaining > 0 ? continueToken(list, keys[keys.length - 1]!) : null };
}

/**
 * Writes a list answer: head, then `read(key)` of each key of the page, serialized one at a time; keys whose
 * object has gone since the page was chosen are left out. Resolves when the answer is complete or the client
 * has gone (then the rest is not read).
 */
export async function streamList(res: ServerResponse, head: ListHead, page: Page, read: (key: string) => unknown): Promise<void> {
  const metadata = {
    resourceVersion: head.resourceVersion,
    ...(page.continueToken === null ? {} : { continue: page.continueToken, remainingItemCount: page.remaining }),
  };
  res.writeHead(200, { 'content-type': 'application/json' });
  const open = JSON.stringify({ apiVersion: head.apiVersion, kind: head.kind, metadata, items: [] }).slice(0, -2);
  if (!(await write(res, open))) return;
  let first = true;
  for (const key of page.keys) {
    // The data plane's turn: one object's work (status + serialization), of all lists together, per loop turn.
    await adminTurn();
    if (res.destroyed) return;
    const obj = read(key);
    if (obj === null || obj === undefined) continue;
    const pieces = jsonPieces(obj);
    if (!first) pieces.unshift(',');
    first = false;
    if (!(await writeAll(res, pieces))) return;
  }
  res.end(']}');
}

/** The end of the queue of list writers waiting for their turn. */
let lastTurn: Promise<void> = Promise.resolve();

/**
 * Resolves on a later event-loop turn than every earlier caller's: concurrent lists take turns, one object per
 * turn in all, with the data plane's I/O handled between any two (the queue holds one entry per list being
 * written, so it is bounded by the admin API's connections).
 */
function adminTurn(): Promise<void> {
  const mine = lastTurn.then(() => nextTurn());
  lastTurn = mine;
  return mine;
}

/** Writes an object's pieces in one go (corked: one writev); then waits for drain like `write`. */
function writeAll(res: ServerResponse, pieces: string[]): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  res.cork();
  for (let i = 0; i < pieces.length - 1; i++) res.write(pieces[i]!);
  const p = write(res, pieces[pieces.length - 1]!);
  res.uncork();
  return p;
}

/** Writes a chunk; when the socket's buffer is full, waits for `drain`. False once the client has gone. */
function write(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean): void => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
