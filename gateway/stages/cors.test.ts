import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { CorsPolicy } from '../../api/ingress-policy.js';
import { silentLogger } from '../../core/log.js';
import { Exchange } from '../exchange.js';
import type { PassedHead } from '../forward-headers.js';
import { Pipeline } from '../pipeline.js';
import type { RouteMatch } from '../route-table.js';
import { Cors } from './cors.js';
import type { IngressMetrics } from './ingress-metrics.js';

const POLICY: CorsPolicy = { origins: ['https://app.example.com'], methods: ['POST'], headers: [], expose: [], maxAgeSeconds: 600, credentials: false };
const metrics = { refused: { inc: () => undefined } } as unknown as IngressMetrics;

function exchange(pipeline: Pipeline, policy: CorsPolicy | null, origin?: string): Exchange {
  const req = { method: 'POST', headers: origin === undefined ? {} : { origin } } as unknown as IncomingMessage;
  const ex = new Exchange(req, {} as ServerResponse, 0, 0, pipeline);
  ex.match = { route: { namespace: 'default', service: 'm', ingress: policy === null ? undefined : { cors: policy } }, tag: null, path: '/' } as unknown as RouteMatch;
  return ex;
}

describe('Cors on the path where the replica\'s head goes on as it came (pairs)', () => {
  const cors = new Cors(metrics);
  const pipeline = new Pipeline([cors], silentLogger());

  it('wants the response start only for a request from an allowed origin (the ones that get Access-Control-Allow-Origin)', () => {
    for (const [policy, origin, wanted] of [
      [POLICY, 'https://app.example.com', true],
      [POLICY, 'https://evil.example', false],
      [POLICY, undefined, false],
      [null, 'https://app.example.com', false],
    ] as const) {
      const ex = exchange(pipeline, policy, origin);
      expect(cors.onRouted(ex)).toBeUndefined();
      expect(pipeline.wantsResponseStart(ex)).toBe(wanted);
    }
  });

  it("adds Vary: Origin for a service with a policy, beside the replica's own Vary, once", () => {
    // The replica's fields as name/value pairs; what the stage added follows them.
    const pairs = (policy: CorsPolicy | null, replica: string[]): string[] => {
      const out = [...replica];
      const head: PassedHead = {
        get: (name) => {
          const values = out.filter((v, i) => i % 2 === 1 && out[i - 1]!.toLowerCase() === name);
          return values.length > 0 ? values.join(', ') : undefined;
        },
        add: (name, value) => void out.push(name, value),
      };
      pipeline.responseHead(exchange(pipeline, policy), head);
      return out;
    };
    expect(pairs(POLICY, ['content-type', 'application/json'])).toEqual(['content-type', 'application/json', 'vary', 'Origin']);
    expect(pairs(POLICY, ['vary', 'Accept-Encoding'])).toEqual(['vary', 'Accept-Encoding', 'vary', 'Origin']);
    expect(pairs(POLICY, ['vary', 'accept-encoding, origin'])).toEqual(['vary', 'accept-encoding, origin']);
    expect(pairs(POLICY, ['vary', '*'])).toEqual(['vary', '*']);
    expect(pairs(null, ['content-type', 'application/json'])).toEqual(['content-type', 'application/json']);
  });
});
