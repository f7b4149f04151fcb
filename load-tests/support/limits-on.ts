/**
 * Every ingress rule on, none of them biting: what checking them costs. The rates are the largest an
 * InferenceService accepts (`sluice.dev/rate-limit` ≤ 1,000,000/s, bursts ≤ 10,000,000), far above any load here.
 * The in-process loop (ingress-stage-cost.ts) passes more than a million requests a second, but a full bucket of
 * ten million covers all it sends. Used by the `ingress-limits` scenario's `--limits on` Sluice
 * (systems/sluice-server.ts) and by the in-process stage cost (ingress-stage-cost.ts), so both measure the same
 * rules.
 */
type Settings = Partial<Record<'clientRateLimit' | 'clientRateLimitBurst' | 'maxRequestsPerClient', number>>;

/** Each rule on its own (`--limits <rule>,…` of systems/sluice-server.ts): the annotations and settings it takes. */
export const LIMIT_RULES = {
  rate: { annotations: { 'sluice.dev/rate-limit': '1000000', 'sluice.dev/rate-limit-burst': '10000000' }, settings: {} },
  'client-rate': {
    annotations: { 'sluice.dev/client-rate-limit': '1000000', 'sluice.dev/client-rate-limit-burst': '10000000' },
    settings: { clientRateLimit: 1_000_000, clientRateLimitBurst: 10_000_000 },
  },
  concurrency: { annotations: {}, settings: { maxRequestsPerClient: 100_000 } },
  cidr: { annotations: { 'sluice.dev/allow-cidrs': '127.0.0.0/8,::1/128' }, settings: {} },
  body: { annotations: { 'sluice.dev/max-request-bytes': '1048576' }, settings: {} },
  cors: { annotations: { 'sluice.dev/cors-allow-origins': 'https://app.example.com' }, settings: {} },
} satisfies Record<string, { annotations: Record<string, string>; settings: Settings }>;

export type LimitRule = keyof typeof LIMIT_RULES;

export function isLimitRule(s: string): s is LimitRule {
  return Object.hasOwn(LIMIT_RULES, s);
}

/** The annotations and gateway settings of the rules named, together. */
export function limitsOf(rules: readonly LimitRule[]): { annotations: Record<string, string>; settings: Settings } {
  const annotations: Record<string, string> = {};
  const settings: Settings = {};
  for (const r of rules) {
    Object.assign(annotations, LIMIT_RULES[r].annotations);
    Object.assign(settings, LIMIT_RULES[r].settings);
  }
  return { annotations, settings };
}

const ALL = limitsOf(Object.keys(LIMIT_RULES) as LimitRule[]);

/** Every rule's annotations. */
export const LIMITS_ON_ANNOTATIONS: Readonly<Record<string, string>> = ALL.annotations;

/** The gateway-wide settings that go with them. */
export const LIMITS_ON_SETTINGS = ALL.settings as Required<Settings>;
