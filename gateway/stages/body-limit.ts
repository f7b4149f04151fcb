import type { Exchange } from '../exchange.js';
import type { Admission, Stage } from '../stage.js';
import type { IngressMetrics } from './ingress-metrics.js';

/**
 * The largest request body: the service's `sluice.dev/max-request-bytes`, else the gateway's `maxRequestBytes`.
 * A declared `Content-Length` over it gets 413 here, before the request is admitted (no replica is woken, no
 * upstream connection made). A chunked body is counted while it streams (`ex.maxBodyBytes`, forwarder.ts): past
 * the limit the upstream request is aborted and the client gets 413 when no answer has begun.
 */
export class BodyLimit implements Stage {
  readonly name = 'body-limit';

  constructor(
    private readonly maxRequestBytes: number,
    private readonly metrics: IngressMetrics,
  ) {}

  onRouted(ex: Exchange): Admission {
    const own = ex.match?.route.ingress?.maxRequestBytes ?? null;
    const limit = own ?? this.maxRequestBytes;
    const declared = ex.req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) {
      this.metrics.refused.inc({ limit: 'max_request_bytes' });
      return {
        status: 413,
        message: `the request body of ${declared} bytes is larger than the ${limit} bytes allowed (${bodyLimitName(own !== null)}=${limit})`,
        headers: { connection: 'close' },
      };
    }
    ex.maxBodyBytes = limit;
    ex.maxBodyBytesSetting = bodyLimitName(own !== null);
    return undefined;
  }
}

export function bodyLimitName(perService: boolean): string {
  return perService ? 'sluice.dev/max-request-bytes' : 'maxRequestBytes';
}
