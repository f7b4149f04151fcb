import ipaddr from 'ipaddr.js';
import type { IngressPolicy } from '../../api/ingress-policy.js';
import type { Exchange } from '../exchange.js';
import type { Admission, Stage } from '../stage.js';
import { clientAddressOf } from './client-identity.js';
import type { IngressMetrics } from './ingress-metrics.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Addresses whose allowlist decision one policy remembers. */
const MAX_DECISIONS = 10_000;

/**
 * A service's CIDR allowlist (`sluice.dev/allow-cidrs`): a client whose address (after `trustedProxyHops`, see
 * client-identity.ts) is in none of them gets 403 naming the annotation. IPv4 ranges match IPv4 and
 * IPv4-mapped IPv6 clients alike. The CIDRs are parsed once per policy.
 */
export class IpAllowlist implements Stage {
  readonly name = 'ip-allowlist';
  private readonly parsed = new WeakMap<IngressPolicy, { ranges: Range[]; decided: Map<string, boolean> }>();

  constructor(
    private readonly trustedHops: number,
    private readonly metrics: IngressMetrics,
  ) {}

  onRouted(ex: Exchange): Admission {
    const policy = ex.match?.route.ingress;
    if (policy?.allowCidrs == null) return undefined;
    let p = this.parsed.get(policy);
    if (p === undefined) {
      p = { ranges: policy.allowCidrs.map((c) => ipaddr.parseCIDR(c)), decided: new Map() };
      this.parsed.set(policy, p);
    }
    const address = clientAddressOf(ex, this.trustedHops);
    // Decisions are remembered per address (bounded: forgotten all at once when full).
    let allowed = p.decided.get(address);
    if (allowed === undefined) {
      allowed = inRanges(address, p.ranges);
      if (p.decided.size >= MAX_DECISIONS) p.decided.clear();
      p.decided.set(address, allowed);
    }
    if (allowed) return undefined;
    this.metrics.refused.inc({ limit: 'allow_cidrs' });
    const { namespace, service } = ex.match!.route;
    return { status: 403, message: `client address ${address} is not allowed to call InferenceService ${namespace}/${service} (sluice.dev/allow-cidrs)` };
  }
}

export function inRanges(address: string, ranges: readonly Range[]): boolean {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // The address is normalised (client-identity.ts): IPv4 has no colon; parsing by kind throws only when invalid.
    ip = address.includes(':') ? ipaddr.IPv6.parse(address) : ipaddr.IPv4.parse(address);
  } catch {
    return false;
  }
  for (const [net, bits] of ranges) {
    if (net.kind() !== ip.kind()) continue;
    if (ip.match([net, bits] as [typeof ip, number])) return true;
  }
  return false;
}
