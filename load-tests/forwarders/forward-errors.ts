import type { ServerResponse } from 'node:http';
import { writeError } from '../../core/errors.js';

/** Raised by forwarders that time the upstream themselves (node:http). */
export class UpstreamTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`upstream did not answer within ${ms} ms`);
    this.name = 'UpstreamTimeoutError';
  }
}

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The one classification every forwarder applies to what its library reports: a timeout → 504, anything
 * else → 502. Whether a library's error can be told apart is exactly what the behaviour check measures.
 */
export function statusForUpstreamError(err: unknown): 504 | 502 {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TIMEOUT_CODES.has(code) ? 504 : 502;
}

export function failForward(res: ServerResponse, err: unknown): void {
  if (res.destroyed) return;
  const status = statusForUpstreamError(err);
  writeError(res, status, status === 504 ? 'upstream timeout' : 'upstream unavailable');
}
