import { Counter, type Registry } from 'prom-client';

/** The ingress stages' metrics, registered once per registry (several pipelines may share one in tests). */
export interface IngressMetrics {
  /** Requests a limit or policy refused, by limit (`max_request_bytes`, `rate_limit`, …). */
  refused: Counter<'limit'>;
  /** Rate-limit decisions taken locally because the shared store (Redis) failed. */
  rateLimitFallbacks: Counter;
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function ingressMetrics(registry: Registry): IngressMetrics {
  return {
    refused: counter(registry, 'sluice_gateway_ingress_refused_total', 'Requests refused by an ingress rule before routing or admission, by the rule (limit) that refused them.', ['limit']),
    rateLimitFallbacks: counter(registry, 'sluice_gateway_rate_limit_fallbacks_total', 'Rate-limit decisions taken with local buckets because the shared store (Redis) failed or was too slow.', []),
  };
}
