/**
 * The product's gateway and forwarder (gateway/gateway.ts, gateway/forwarder.ts) on real sockets, on their error
 * paths: 504, client abort, 502 on a reset, retry when nothing was sent, the gateway's 503s and its 500.
 * Built here from the parts (no controller): a hand-made route snapshot, the real activator and collector, and
 * upstream servers that misbehave on purpose.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Activator } from '../../activator/activator.js';
import type { Route } from '../../api/route.js';
import { Collector } from '../../autoscaler/collector.js';
import { gatewayPipeline } from '../../cli/wiring.js';
import { FakeClock } from '../../core/clock.js';
import { silentLogger } from '../../core/log.js';
import { SluiceMetrics } from '../../core/metrics.js';
import { MemoryStore } from '../../core/store.js';
import { SnapshotHolder, type RevisionView } from '../../gateway/data-plane.js';
import { Forwarder } from '../../gateway/forwarder.js';
import { Gateway } from '../../gateway/gateway.js';
import { OutcomeRecorder } from '../../gateway/outcome-recorder.js';
import { buildRouteTable } from '../../gateway/route-table.js';
import { waitUntil } from '../support/wait.js';

const KEY = 'default/iris-predictor-00001';
const REV: RevisionView = {
  key: KEY,
  namespace: 'default',
  service: 'iris',
  name: 'iris-predictor-00001',
  timeoutMs: 400,
  modelName: 'iris',
  runtimeModelName: 'iris',
  failed: null,
  proven: false,
  createdAt: '2026-01-01T00:00:00.000Z',
  batcher: null,
  containerConcurrency: 0,
};
const route = (targets: Route['targets']): Route => ({ namespace: 'default', service: 'iris', modelName: 'iris', hosts: [], targets });
const TO_REV: Route['targets'] = [{ revisionKey: KEY, revisionName: REV.name, percent: 100, tag: null, latestRevision: true }];

interface Front {
  url: string;
  activator: Activator;
  outcomes: OutcomeRecorder;
  /** Marks a replica ready (the backend's event) and returns its endpoint id. */
  ready(url: string, n: number): string;
}

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A gateway over one revision, with a real forwarder unless `forwarder` is given. */
async function front(o: { routes?: Route[]; revisions?: RevisionView[]; forwarder?: Forwarder } = {}): Promise<Front> {
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const metrics = new SluiceMetrics();
  const logger = silentLogger();
  const activator = new Activator({
    clock,
    metrics,
    logger,
    limits: { maxHeldPerRevision: 10, maxHeldTotal: 10, maxHeldBytesPerRevision: 1e6, maxHeldBytesTotal: 1e6, retryAfterSeconds: 1 },
    poke: () => undefined,
  });
  activator.addRevision(KEY, { namespace: 'default', service: 'iris', revision: REV.name });
  const revisions = o.revisions ?? [REV];
  const snapshot = new SnapshotHolder({
    routes: buildRouteTable(o.routes ?? [route(TO_REV)], 'example.com', 1),
    revisions: new Map(revisions.map((r) => [r.key, r])),
  });
  const collector = new Collector({ clock, store: new MemoryStore(), instance: 'test' });
  const forwarder = o.forwarder ?? new Forwarder();
  const outcomes = new OutcomeRecorder();
  const pipeline = gatewayPipeline({ clock, logger, metrics, collector, outcomes });
  const gateway = new Gateway({ clock, logger, metrics, snapshot, activator, forwarder, pipeline });
  const url = await listen(gateway.createServer());
  closers.push(async () => {
    collector.close();
    await forwarder.close();
  });
  return {
    url,
    activator,
    outcomes,
    ready(replicaUrl, n) {
      const id = `${KEY}#${n}`;
      activator.onEndpointEvent({ type: 'ready', endpoint: { id, revisionKey: KEY, url: replicaUrl, capacity: 0 } });
      return id;
    },
  };
}

/** One predict through the gateway; resolves with status and parsed error body. */
function predict(base: string, opts: { signal?: AbortSignal } = {}): Promise<{ status: number; body: { error?: string } }> {
  return fetch(`${base}/v1/models/iris:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: [[1, 2, 3, 4]] }),
    signal: opts.signal,
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as { error?: string } }));
}

/** An upstream that records each request and answers with `handler`. */
async function upstream(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  const url = await listen(
    createServer((req, res) => {
      seen.push(req);
      handler(req, res);
    }),
  );
  return { url, seen };
}

describe('the gateway and its forwarder on their error paths (real sockets)', () => {
  it('answers 504 when the replica does not answer within the revision timeout', async () => {
    const slow = await upstream(() => undefined); // never answers
    const g = await front();
    g.ready(slow.url, 1);
    const t0 = Date.now();
    const r = await predict(g.url);
    expect(r.status).toBe(504);
    expect(r.body).toEqual({ error: 'the replica did not answer within 400 ms' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(slow.seen).toHaveLength(1);
  });

  it('propagates a client abort to the replica: the upstream sees its request closed', async () => {
    const slow = await upstream(() => undefined);
    // A long deadline: only the abort, not the forwarder's timeout, can close the upstream request in time.
    const g = await front({ revisions: [{ ...REV, timeoutMs: 60_000 }] });
    g.ready(slow.url, 1);
    const client = request(`${g.url}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    client.on('error', () => undefined);
    client.end(JSON.stringify({ instances: [[1, 2, 3, 4]] }));
    const upstreamReq = await waitUntil('the request to reach the replica', () => slow.seen[0], 5_000);
    const closed = new Promise<void>((r) => upstreamReq.socket.once('close', () => r()));
    client.destroy();
    await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the replica never saw the client abort')), 5_000)),
    ]);
    expect(upstreamReq.socket.destroyed).toBe(true);
  });

  it('answers 502 naming the replica when the replica resets the connection after taking the request, does not retry it, and keeps the replica in rotation (a reset is not a dead replica)', async () => {
    const resetting = await upstream((req) => {
      req.resume();
      req.once('end', () => req.socket.resetAndDestroy());
    });
    const g = await front();
    const id = g.ready(resetting.url, 7);
    const r = await predict(g.url);
    expect(r.status).toBe(502);
    expect(r.body.error).toMatch(new RegExp(`^replica ${id.replace(/[/#]/g, '\\$&')}: `));
    expect(r.body.error).toMatch(/not retried because it may have been processed/);
    expect(resetting.seen).toHaveLength(1);
    // Only a replica no connection can be made to leaves the rotation (issue 12 item 6).
    expect(g.activator.replicas(KEY)).toEqual([expect.objectContaining({ id, state: 'active' })]);
  });

  it('retries on another replica when the request never reached the first (connection refused)', async () => {
    // A port that refuses connections: a server that listened and closed.
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const goneUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}`;
    await new Promise<void>((r) => gone.close(() => r()));
    const good = await upstream((req, res) => {
      req.resume();
      req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"predictions":[1]}'));
    });
    const g = await front();
    const refused = g.ready(goneUrl, 1);
    // Only the refusing replica exists: the request fails on it, is not answered, and waits for another replica.
    const answer = predict(g.url);
    await waitUntil('the request to be held after the first replica failed', () => g.activator.held(KEY) === 1, 5_000);
    expect(g.activator.replicas(KEY)).toEqual([expect.objectContaining({ id: refused, state: 'failed' })]);
    g.ready(good.url, 2);
    const r = await answer;
    expect(r).toEqual({ status: 200, body: { predictions: [1] } });
    expect(good.seen).toHaveLength(1);
  });

  it('answers 503 when no revision takes traffic', async () => {
    const g = await front({ routes: [route([{ ...TO_REV[0]!, percent: 0 }])] });
    const r = await predict(g.url);
    expect(r).toEqual({ status: 503, body: { error: 'InferenceService default/iris has no revision taking traffic' } });
  });

  it('answers 503 when the route names a revision the data plane does not have', async () => {
    const g = await front({ revisions: [] });
    const r = await predict(g.url);
    expect(r).toEqual({ status: 503, body: { error: 'revision iris-predictor-00001 is not available' } });
  });

  it('answers 500 with a generic message (no internals) when something inside the gateway throws', async () => {
    class BrokenForwarder extends Forwarder {
      override forwardTo(): void {
        throw new Error('internal detail that must not leak');
      }
    }
    const good = await upstream((_req, res) => res.end('never used'));
    const g = await front({ forwarder: new BrokenForwarder() });
    g.ready(good.url, 1);
    const r = await predict(g.url);
    expect(r).toEqual({ status: 500, body: { error: 'internal gateway error' } });
    expect(good.seen).toHaveLength(0);
  });
});
