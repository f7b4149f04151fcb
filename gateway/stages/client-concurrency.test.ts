import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import { SluiceMetrics } from '../../core/metrics.js';
import { Exchange } from '../exchange.js';
import type { Pipeline } from '../pipeline.js';
import { ClientConcurrency } from './client-concurrency.js';
import { ingressMetrics } from './ingress-metrics.js';

const exchange = (address: string): Exchange =>
  new Exchange({ socket: { remoteAddress: address }, headers: {} } as unknown as IncomingMessage, {} as ServerResponse, 0, 0, null as unknown as Pipeline);

describe('requests in flight per client', () => {
  it('refuses the one over the limit and lets it in again once one is done', () => {
    const stage = new ClientConcurrency(2, 0, ingressMetrics(new SluiceMetrics().registry));
    const [a, b, c] = [exchange('10.0.0.1'), exchange('10.0.0.1'), exchange('10.0.0.1')];
    expect(stage.onArrival(a)).toBeUndefined();
    expect(stage.onArrival(b)).toBeUndefined();
    expect(stage.onArrival(c)).toMatchObject({ status: 429, message: 'too many requests in flight from this client: 2 (limit maxRequestsPerClient=2)' });
    expect(stage.onArrival(exchange('10.0.0.2'))).toBeUndefined();
    stage.onDone(c); // refused: it held nothing
    stage.onDone(a);
    expect(stage.onArrival(exchange('10.0.0.1'))).toBeUndefined();
  });

  it('stays bounded: idle clients are swept out', () => {
    const stage = new ClientConcurrency(1, 0, ingressMetrics(new SluiceMetrics().registry));
    for (let i = 0; i < 50_000; i++) {
      const ex = exchange(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      stage.onArrival(ex);
      stage.onDone(ex);
    }
    expect(stage.clients).toBeLessThanOrEqual(10_000);
  });
});
