import type { Exchange } from '../exchange.js';
import type { Admission, Stage } from '../stage.js';
import type { IngressMetrics } from './ingress-metrics.js';

/**
 * Refuses a request with more than `maxHeaderCount` header fields: 431, before routing. (Their total size is
 * Node's parser's limit, `maxHeaderBytes`, answered 431 before a request exists: client-connections.ts.) Node
 * itself would keep only the first 2,000 fields and drop the rest silently.
 */
export class HeaderLimits implements Stage {
  readonly name = 'header-limits';

  constructor(
    private readonly maxHeaderCount: number,
    private readonly metrics: IngressMetrics,
  ) {}

  onArrival(ex: Exchange): Admission {
    // A gRPC call's request stands in for a stream and has no rawHeaders: count its (HTTP/2) header fields.
    const raw = ex.req.rawHeaders as string[] | undefined;
    const count = raw ? raw.length / 2 : Object.keys(ex.req.headers).length;
    if (count <= this.maxHeaderCount) return undefined;
    this.metrics.refused.inc({ limit: 'max_header_count' });
    return { status: 431, message: `the request has ${count} header fields, more than the ${this.maxHeaderCount} allowed (maxHeaderCount=${this.maxHeaderCount})`, headers: { connection: 'close' } };
  }
}
