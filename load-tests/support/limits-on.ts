/**
 * Every ingress rule on, none of them biting: what checking them costs. The rates are the largest an
 * InferenceService accepts (`sluice.dev/rate-limit` ≤ 1,000,000/s, bursts ≤ 10,000,000), far above any load here.
 * The in-process loop (ingress-stage-cost.ts) passes more than a million requests a second, but a full bucket of
 * ten million covers all it sends. Used by the `ingress-limits` scenario's `--limits on` Sluice
 * (systems/sluice-server.ts) and by the in-process stage cost (ingress-stage-cost.ts), so both measure the same
 * rules.
 */
export const LIMITS_ON_ANNOTATIONS: Readonly<Record<string, string>> = {
  'sluice.dev/rate-limit': '1000000',
  'sluice.dev/rate-limit-burst': '10000000',
  'sluice.dev/client-rate-limit': '1000000',
  'sluice.dev/client-rate-limit-burst': '10000000',
  'sluice.dev/allow-cidrs': '127.0.0.0/8,::1/128',
  'sluice.dev/max-request-bytes': '1048576',
  'sluice.dev/cors-allow-origins': 'https://app.example.com',
};

/** The gateway-wide settings that go with them. */
export const LIMITS_ON_SETTINGS = { clientRateLimit: 1_000_000, clientRateLimitBurst: 10_000_000, maxRequestsPerClient: 100_000 } as const;
