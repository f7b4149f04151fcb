/** How the admin API answers: JSON bodies and Kubernetes `Status` errors. */
import type { ServerResponse } from 'node:http';
import { HttpError, ValidationError, errorMessage } from '../core/errors.js';

/**
 * Answers; when the request's body has not all arrived (refused before or while reading it), the connection is
 * closed after the answer, so the rest is never read. When a streamed answer has begun, the connection is cut
 * instead (the client sees an incomplete body, never a second answer glued to the first).
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  const unread = !res.req.complete;
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(unread ? { connection: 'close' } : {}) });
  res.end(text);
}

/** A Kubernetes `Status` error; validation errors carry their field paths in `details.causes`. */
export function sendStatus(
  res: ServerResponse,
  code: number,
  reason: string,
  message: string,
  causes?: Array<{ field: string; message: string }>,
  headers: Record<string, string> = {},
): void {
  sendJson(res, code, {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Failure',
    message,
    reason,
    code,
    ...(causes ? { details: { causes } } : {}),
  }, headers);
}

const REASONS: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  507: 'InsufficientStorage',
};

export function statusForError(res: ServerResponse, err: unknown): void {
  if (err instanceof ValidationError)
    sendStatus(res, 422, 'Invalid', err.message, err.issues.map((i) => ({ field: i.path, message: i.message })));
  else if (err instanceof HttpError) sendStatus(res, err.status, REASONS[err.status] ?? 'BadRequest', err.message, undefined, err.headers);
  else sendStatus(res, 500, 'InternalError', errorMessage(err));
}
