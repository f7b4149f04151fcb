/** The gateway-wide ingress settings (core/config-table.ts rows of the same names; docs/security.md). */
export interface IngressSettings {
  /** Proxies in front of the gateway whose `X-Forwarded-For` entries are believed (0: the socket's peer only). */
  trustedProxyHops: number;
  /** Largest request body for a service that sets no `sluice.dev/max-request-bytes`. */
  maxRequestBytes: number;
  /** Most header fields in one request (431 above). */
  maxHeaderCount: number;
  /** Requests in flight at once from one client; 0: no limit. */
  maxRequestsPerClient: number;
  /** Requests per second from one client across all services; 0: no limit. */
  clientRateLimit: number;
  /** Burst of that bucket; 0: the rate rounded up (at least 1). */
  clientRateLimitBurst: number;
  /** Local token buckets kept at once (least recently used dropped). */
  rateLimitBuckets: number;
}

export const INGRESS_DEFAULTS: Readonly<IngressSettings> = Object.freeze({
  trustedProxyHops: 0,
  maxRequestBytes: 32 * 1024 * 1024,
  maxHeaderCount: 100,
  maxRequestsPerClient: 0,
  clientRateLimit: 0,
  clientRateLimitBurst: 0,
  rateLimitBuckets: 100_000,
});

/** `Retry-After` in whole seconds (at least 1) for a wait in ms. */
export function retryAfter(ms: number): Record<string, string> {
  return { 'retry-after': String(Math.max(1, Math.ceil(ms / 1000))) };
}
