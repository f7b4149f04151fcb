/**
 * The gateway's own endpoints at its bare address (no service Host, no /serving/ prefix) on real sockets, and
 * host- or /serving/-routed requests for the same paths still reaching the runtime. See docs/probes.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLUICE_VERSION } from '../../core/version.js';
import { isvc } from '../support/controller-harness.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';

describe('server-level endpoints at the gateway', () => {
  let g: GatewayHarness;

  const call = async (path: string, o: { method?: 'GET' | 'HEAD' | 'POST'; host?: string } = {}) => {
    const r = await g.pool.request({ path, method: o.method ?? 'GET', headers: o.host ? { host: o.host } : {} });
    const text = await r.body.text();
    return { status: r.statusCode, json: text ? (JSON.parse(text) as unknown) : null, headers: r.headers };
  };

  beforeAll(async () => {
    g = await gatewayHarness();
    await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
    await g.controller.apply(isvc('aardvark', 'gs://m/a', '    minReplicas: 0\n', { 'autoscaling.knative.dev/initial-scale': '0' }), 'api');
    await g.replica('iris-predictor-00001', 'v1');
  });
  afterAll(async () => {
    await g?.close();
  });

  it('GET /v2 names Sluice; live and ready answer 200 with JSON; /v1/models lists the routed model names', async () => {
    expect(await call('/v2')).toMatchObject({ status: 200, json: { name: 'sluice', version: SLUICE_VERSION, extensions: [] } });
    expect(await call('/v2/health/live')).toMatchObject({ status: 200, json: { live: true } });
    expect(await call('/v2/health/ready')).toMatchObject({ status: 200, json: { ready: true } });
    expect(await call('/v1/models')).toMatchObject({ status: 200, json: { models: ['aardvark', 'iris'] } });
    expect(await call('/healthz')).toMatchObject({ status: 200, json: { status: 'ok' } });
    expect(await call('/readyz')).toMatchObject({ status: 200, json: { status: 'ready' } });
    const head = await call('/v2/health/ready', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('application/json');
  });

  it('a Host the gateway does not route (its own address) gets the same answers', async () => {
    expect(await call('/v2/health/ready', { host: 'sluice.internal:8080' })).toMatchObject({ status: 200, json: { ready: true } });
  });

  it('other methods get 405 naming GET; unknown paths stay 404', async () => {
    const post = await call('/v2/health/ready', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect(post.json).toEqual({ error: 'method POST is not allowed on /v2/health/ready; use GET' });
    expect((await call('/v2/health')).status).toBe(404);
    expect((await call('/v1/models/nope')).status).toBe(404);
  });

  it('host- and /serving/-routed requests for the same paths reach the runtime', async () => {
    const host = 'iris.default.example.com';
    expect(await call('/v2', { host })).toMatchObject({ status: 200, json: { name: 'sluice-demo' } });
    expect(await call('/serving/default/iris/v2')).toMatchObject({ status: 200, json: { name: 'sluice-demo' } });
    expect(await call('/serving/default/iris/v1/models')).toMatchObject({ status: 200, json: { models: ['iris'] } });
    const ready = await call('/v2/health/ready', { host });
    expect(ready).toMatchObject({ status: 200, json: { ready: true } });
    expect(ready.headers['x-demo-label']).toBe('v1');
  });

  it('readiness is 503 once the drain begins (SIGTERM), and stays so; liveness stays 200', async () => {
    const phase = g.gateway.phase;
    g.gateway.beginDrain();
    expect(await call('/v2/health/ready')).toMatchObject({ status: 503, json: { error: 'Sluice is shutting down' } });
    expect(await call('/readyz')).toMatchObject({ status: 503, json: { error: 'Sluice is shutting down' } });
    expect((await call('/v2/health/live')).status).toBe(200);
    expect((await call('/healthz')).status).toBe(200);
    phase.serving();
    expect((await call('/readyz')).status).toBe(503);
  });
});
