import { HttpError } from '../core/errors.js';
import type { Failure } from './exchange.js';
import { ForwardError } from './forwarder.js';

/** Errors of a replica no connection could be made to. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** What a failure the gateway answered for was, in one stable word (see `Failure`) and its message. */
export function failureOf(err: unknown): Failure {
  if (err instanceof ForwardError) {
    const kind =
      err.status === 499
        ? 'aborted'
        : err.status === 408
          ? 'client_body_timeout'
          : err.status === 504
            ? 'upstream_timeout'
            : UNREACHABLE.has(err.code)
              ? 'upstream_unreachable'
              : 'upstream_failed';
    return { kind, message: err.message };
  }
  if (err instanceof HttpError) {
    const kinds: Record<number, string> = { 499: 'aborted', 504: 'hold_timeout', 503: 'unavailable', 413: 'too_large', 429: 'refused' };
    return { kind: kinds[err.status] ?? `http_${err.status}`, message: err.message };
  }
  return { kind: 'internal', message: 'internal gateway error' };
}
