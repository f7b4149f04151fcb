/**
 * Reads an admin request's body within a byte limit, answering the limit with 413 rather than a reset: before
 * `100 Continue` when the client waits for it, without reading when Content-Length already says too much, and as
 * soon as a chunked body grows past it (the connection is then closed, see `sendJson`).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { HttpError, errorMessage } from '../core/errors.js';
import { bodyMediaType } from './admin-guard.js';

function tooLarge(limit: number, size: number | null): HttpError {
  const mib = limit % (1024 * 1024) === 0 ? ` (${limit / (1024 * 1024)} MiB)` : '';
  const what = size === null ? 'the request body grew past' : `the request body (${size} bytes) is larger than`;
  return new HttpError(413, `${what} the admin API's limit of ${limit} bytes${mib}, the setting adminMaxBodyBytes`);
}

/** Checks the media type and declared length, sends `100 Continue` if asked, and reads the body. */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<{ text: string; type: ReturnType<typeof bodyMediaType> }> {
  const type = bodyMediaType(req);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(tooLarge(limit, Number(declared)));
  if (/^100-continue$/i.test(req.headers.expect ?? '')) res.writeContinue();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        chunks.length = 0;
        // Keep the socket flowing (discarding) until the 413 is written; it is closed after.
        req.resume();
        reject(tooLarge(limit, null));
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => resolve({ text: Buffer.concat(chunks).toString('utf8'), type }));
    req.on('error', reject);
  });
}

/** The body as a value: YAML for the YAML types, else JSON; 400 naming the format when it does not parse. */
export function parseBody(body: { text: string; type: ReturnType<typeof bodyMediaType> }): unknown {
  const yaml = body.type !== 'application/json';
  try {
    return yaml ? parseYaml(body.text) : JSON.parse(body.text);
  } catch (err) {
    throw new HttpError(400, `request body is not valid ${yaml ? 'YAML' : 'JSON'}: ${errorMessage(err)}`);
  }
}
