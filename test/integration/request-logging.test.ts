/**
 * Request/response logging (gateway/stages/logger/) through the real gateway, activator and forwarder on real
 * sockets, to a real HTTP sink started here; every event is decoded with the official `cloudevents` SDK
 * (`HTTP.toEvent`, then `validate()`, the SDK's strict schema check). Sinks that are dead, hung or slow, and a full
 * queue: requests still get their answers, and `sluice_logger_events_total` says what happened. Delivery runs on
 * its own FakeClock (timeouts, backoff), moved by the tests.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CloudEvent, HTTP } from 'cloudevents';
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
import { buildRouteTable } from '../../gateway/route-table.js';
import { EventDelivery, type DeliveryOptions } from '../../gateway/stages/logger/delivery.js';
import { RequestLogging } from '../../gateway/stages/logger/request-logging.js';
import { metricValue } from '../support/metrics-text.js';
import { waitUntil } from '../support/wait.js';

const KEY = 'default/iris-predictor-00001';
const MiB = 1024 * 1024;

const closers: Array<() => Promise<void> | void> = [];
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

interface Received {
  event: CloudEvent<unknown>;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** A CloudEvents sink: decodes each POST with the SDK; answers with `answer` (default 202, as Knative brokers do). */
async function sink(answer: (res: ServerResponse) => void = (res) => res.writeHead(202).end()): Promise<{ url: string; events: Received[]; pending: ServerResponse[] }> {
  const events: Received[] = [];
  const pending: ServerResponse[] = [];
  const url = await listen(
    createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        const type = req.headers['content-type'] ?? '';
        const event = HTTP.toEvent({ headers: req.headers, body: /json/.test(type) ? body.toString('utf8') : body }) as CloudEvent<unknown>;
        event.validate(); // strict: throws on anything the spec forbids
        events.push({ event, headers: req.headers, body });
        pending.push(res);
        answer(res);
      });
    }),
  );
  return { url: `${url}/events`, events, pending };
}

interface Front {
  url: string;
  metrics: SluiceMetrics;
  clock: FakeClock;
  deliveryClock: FakeClock;
  delivery: EventDelivery;
  ready(url: string): void;
  outcome(o: 'sent' | 'retried' | 'dropped' | 'failed'): Promise<number>;
}

/** A gateway over one revision whose logger sends to `sinkUrl`. */
async function front(
  sinkUrl: string,
  o: { mode?: 'all' | 'request' | 'response'; delivery?: Partial<DeliveryOptions>; timeoutMs?: number; batcher?: RevisionView['batcher']; containerConcurrency?: number } = {},
): Promise<Front> {
  const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const deliveryClock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
  const metrics = new SluiceMetrics();
  const logger = silentLogger();
  const rev: RevisionView = {
    key: KEY,
    namespace: 'default',
    service: 'iris',
    name: 'iris-predictor-00001',
    timeoutMs: o.timeoutMs ?? 10_000,
    modelName: 'iris',
    runtimeModelName: 'iris',
    failed: null,
    proven: false,
    createdAt: '2026-01-01T00:00:00.000Z',
    batcher: o.batcher ?? null,
    containerConcurrency: o.containerConcurrency ?? 0,
    logger: { url: sinkUrl, mode: o.mode ?? 'all', component: 'predictor' },
  };
  const activator = new Activator({
    clock,
    metrics,
    logger,
    limits: { maxHeldPerRevision: 100, maxHeldTotal: 100, maxHeldBytesPerRevision: 64 * MiB, maxHeldBytesTotal: 64 * MiB, retryAfterSeconds: 1 },
    poke: () => undefined,
  });
  activator.addRevision(KEY, { namespace: 'default', service: 'iris', revision: rev.name });
  const route: Route = {
    namespace: 'default',
    service: 'iris',
    modelName: 'iris',
    hosts: [],
    targets: [{ revisionKey: KEY, revisionName: rev.name, percent: 100, tag: null, latestRevision: true }],
  };
  const snapshot = new SnapshotHolder({ routes: buildRouteTable([route], 'example.com', 1), revisions: new Map([[KEY, rev]]) });
  const collector = new Collector({ clock, store: new MemoryStore(), instance: 'test' });
  const forwarder = new Forwarder();
  const delivery = new EventDelivery({
    clock: deliveryClock,
    logger,
    metrics,
    queueEvents: 1000,
    queueBytes: 64 * MiB,
    timeoutMs: 5_000,
    attempts: 3,
    backoffMs: 200,
    connectionsPerSink: 4,
    fileMaxBytes: 100 * MiB,
    ...o.delivery,
  });
  const logging = new RequestLogging({ clock, events: delivery, maxPayloadBytes: MiB });
  const pipeline = gatewayPipeline({ clock, logger, metrics, collector, logging });
  const gateway = new Gateway({ clock, logger, metrics, snapshot, activator, forwarder, pipeline });
  const url = await listen(gateway.createServer());
  closers.push(async () => {
    collector.close();
    activator.close();
    await forwarder.close();
    await delivery.close(0);
  });
  return {
    url,
    metrics,
    clock,
    deliveryClock,
    delivery,
    ready(replicaUrl) {
      activator.onEndpointEvent({ type: 'ready', endpoint: { id: `${KEY}#1`, revisionKey: KEY, url: replicaUrl, capacity: o.containerConcurrency ?? 0 } });
    },
    async outcome(outcome) {
      return metricValue(await metrics.registry.metrics(), 'sluice_logger_events_total', { outcome }) ?? 0;
    },
  };
}

/** A replica that answers `status` with a text/plain body that echoes the request's. */
async function echoReplica(status = 200): Promise<string> {
  return listen(
    createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': body.length }).end(body);
      });
    }),
  );
}

async function post(base: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  const r = await fetch(`${base}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
}

const byType = (events: Received[], type: string): Received[] => events.filter((e) => e.event.type === `org.kubeflow.serving.inference.${type}`);

/** Moves the delivery clock in steps (letting sockets and promises run between them) until `done`. */
async function advanceUntil(clock: FakeClock, what: string, done: () => Promise<boolean> | boolean, stepMs = 100): Promise<void> {
  await waitUntil(what, async () => {
    if (await done()) return true;
    clock.advance(stepMs);
    return false;
  }, 20_000, 5);
}

describe('request/response logging: the events (real gateway, real sink, decoded with the cloudevents SDK)', () => {
  it('a 200: a request and a response event sharing the request id, with KServe\'s attributes and each body\'s own content type', async () => {
    const s = await sink();
    const g = await front(s.url);
    g.ready(await echoReplica(200));
    const r = await post(g.url, '{"instances":[[1,2,3,4]]}', { 'x-request-id': 'req-42' });
    expect(r.status).toBe(200);
    await waitUntil('two events', () => s.events.length === 2);
    const [req] = byType(s.events, 'request');
    const [res] = byType(s.events, 'response');
    expect(req!.event).toMatchObject({
      specversion: '1.0',
      id: 'req-42',
      source: 'iris-predictor-00001',
      datacontenttype: 'application/json',
      inferenceservicename: 'iris',
      namespace: 'default',
      component: 'predictor',
      endpoint: 'default',
      revision: 'iris-predictor-00001',
      payloadsize: '25',
      data: { instances: [[1, 2, 3, 4]] },
    });
    expect(res!.event).toMatchObject({ id: 'req-42', statuscode: '200', datacontenttype: 'text/plain; charset=utf-8', inferenceservicename: 'iris', endpoint: 'default' });
    expect(res!.body.toString()).toBe('{"instances":[[1,2,3,4]]}');
    expect(res!.event.errorkind).toBeUndefined();
    // Attribute names: lowercase a-z0-9 only (and at most 20, the spec's SHOULD), or Knative refuses the event.
    for (const e of s.events) for (const h of Object.keys(e.headers).filter((k) => k.startsWith('ce-'))) expect(h.slice(3)).toMatch(/^[a-z0-9]{1,20}$/);
    await waitUntil('counted sent', async () => (await g.outcome('sent')) === 2);
  });

  it('every status is logged: 400 and 500 from the replica carry their status and body', async () => {
    for (const status of [400, 500]) {
      const s = await sink();
      const g = await front(s.url);
      g.ready(await echoReplica(status));
      const r = await post(g.url, `{"bad":${status}}`);
      expect(r.status).toBe(status);
      await waitUntil('two events', () => s.events.length === 2);
      const [res] = byType(s.events, 'response');
      expect(res!.event.statuscode).toBe(String(status));
      expect(res!.body.toString()).toBe(`{"bad":${status}}`);
      expect(byType(s.events, 'request')[0]!.event.id).toBe(res!.event.id);
    }
  });

  it('a 504 from the activator (no replica within the timeout): the response event has the gateway\'s answer and the error kind', async () => {
    const s = await sink();
    const g = await front(s.url, { timeoutMs: 2_000 });
    let r: { status: number; body: Buffer } | undefined;
    void post(g.url, '{"instances":[[1,2,3,4]]}').then((x) => (r = x));
    // Held (no replica): the gateway's clock passes its deadline.
    await advanceUntil(g.clock, 'the 504', () => r !== undefined, 500);
    if (r === undefined) throw new Error('no answer');
    expect(r.status).toBe(504);
    await waitUntil('two events', () => s.events.length === 2);
    const [req] = byType(s.events, 'request');
    const [res] = byType(s.events, 'response');
    expect(res!.event).toMatchObject({ statuscode: '504', errorkind: 'hold_timeout', datacontenttype: 'application/json' });
    expect(res!.event.data).toEqual(JSON.parse(r.body.toString()));
    // Its body was never read (it never reached a replica): the request event says so rather than pretend.
    expect(req!.event).toMatchObject({ payloadsize: '0', incomplete: 'true' });
  });

  it('a client that goes away: the response event says 499 and aborted', async () => {
    const s = await sink();
    const g = await front(s.url);
    const seen: IncomingMessage[] = [];
    g.ready(await listen(createServer((req) => void seen.push(req)))); // never answers
    const req = httpRequest(`${g.url}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json' } });
    req.on('error', () => undefined);
    req.end('{"instances":[[1,2,3,4]]}');
    await waitUntil('the replica has it', () => seen.length === 1);
    req.destroy();
    await waitUntil('two events', () => s.events.length === 2);
    const [res] = byType(s.events, 'response');
    expect(res!.event).toMatchObject({ statuscode: '499', errorkind: 'aborted' });
    expect(byType(s.events, 'request')[0]!.event.data).toEqual({ instances: [[1, 2, 3, 4]] });
  });

  it('a 5 MB body reaches the replica and the client whole; its events keep 1 MiB, flagged truncated with the real size', async () => {
    const s = await sink();
    const g = await front(s.url);
    g.ready(await echoReplica(200));
    const big = Buffer.alloc(5 * 1000 * 1000, 'a');
    const r = await post(g.url, big, { 'content-type': 'application/octet-stream' });
    expect(r.status).toBe(200);
    expect(r.body.equals(big)).toBe(true);
    await waitUntil('two events', () => s.events.length === 2);
    for (const e of s.events) {
      expect(e.event).toMatchObject({ truncated: 'true', payloadsize: String(big.length), datacontenttype: 'application/octet-stream' });
      expect(e.body.length).toBe(MiB);
    }
    expect(byType(s.events, 'response')[0]!.event.payloadcontenttype).toBe('text/plain; charset=utf-8');
  });

  it('batched requests: each caller\'s events carry its own request body and its own slice of the merged answer', async () => {
    const s = await sink();
    const g = await front(s.url, { batcher: { maxBatchSize: 32, maxLatencyMs: 5000, timeoutSeconds: 60 }, containerConcurrency: 1 });
    // A v1 runtime that predicts each instance as itself; the first call waits until the test lets it go, so the
    // next two callers are merged into one batch behind it.
    const bodies: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    g.ready(
      await listen(
        createServer((req, res) => {
          const parts: Buffer[] = [];
          req.on('data', (c: Buffer) => parts.push(c));
          req.on('end', async () => {
            const text = Buffer.concat(parts).toString('utf8');
            bodies.push(text);
            if (bodies.length === 1) await gate;
            const out = JSON.stringify({ predictions: (JSON.parse(text) as { instances: unknown[] }).instances });
            res.writeHead(200, { 'content-type': 'application/json' }).end(out);
          });
        }),
      ),
    );
    const first = post(g.url, '{"instances": [[0]]}');
    await waitUntil('the first call reached the runtime', () => bodies.length === 1);
    const a = post(g.url, '{"instances": [[1], [2]]}');
    const b = post(g.url, '{"instances": [[3]]}');
    await new Promise((r) => setTimeout(r, 50));
    release();
    const answers = await Promise.all([first, a, b]);
    expect(answers.map((x) => JSON.parse(x.body.toString('utf8')))).toEqual([{ predictions: [[0]] }, { predictions: [[1], [2]] }, { predictions: [[3]] }]);
    expect(bodies).toHaveLength(2); // the two later callers went as one request
    expect(JSON.parse(bodies[1]!)).toEqual({ instances: [[1], [2], [3]] });
    await advanceUntil(g.deliveryClock, 'six events', () => s.events.length === 6);
    const requests = byType(s.events, 'request');
    const responses = byType(s.events, 'response');
    const requestOf = (id: string) => JSON.parse(requests.find((e) => e.event.id === id)!.body.toString('utf8'));
    const pairs = responses.map((r) => [requestOf(r.event.id), JSON.parse(r.body.toString('utf8'))]);
    expect(pairs).toEqual(
      expect.arrayContaining([
        [{ instances: [[0]] }, { predictions: [[0]] }],
        [{ instances: [[1], [2]] }, { predictions: [[1], [2]] }],
        [{ instances: [[3]] }, { predictions: [[3]] }],
      ]),
    );
    expect(pairs).toHaveLength(3);
  });

  it('mode request (or response) sends only that event', async () => {
    const s = await sink();
    const g = await front(s.url, { mode: 'response' });
    g.ready(await echoReplica(200));
    await post(g.url, '{"a":1}');
    await waitUntil('one event', () => s.events.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.events.map((e) => e.event.type)).toEqual(['org.kubeflow.serving.inference.response']);
  });
});

describe('request/response logging: delivery never slows inference', () => {
  it('a dead sink (connection refused): requests answer; each event is tried 3 times, then counted failed', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    // Nothing listens on that port now.
    const g = await front(`http://127.0.0.1:${port}/events`, { delivery: { timeoutMs: 1_000 } });
    g.ready(await echoReplica(200));
    const answers = await Promise.all([1, 2, 3].map(() => post(g.url, '{"a":1}')));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    await advanceUntil(g.deliveryClock, 'six failed', async () => (await g.outcome('failed')) === 6);
    expect(await g.outcome('retried')).toBe(12);
    expect(await g.outcome('sent')).toBe(0);
    expect(g.delivery.queued).toBe(0);
  });

  it('a hung sink (accepts, never answers): requests answer while events wait; each attempt times out, then failed', async () => {
    const sockets: Socket[] = [];
    const hung = createTcpServer((sock) => void sockets.push(sock));
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    closers.push(() => {
      for (const x of sockets) x.destroy();
      hung.close();
    });
    const g = await front(`http://127.0.0.1:${(hung.address() as AddressInfo).port}/`, { delivery: { timeoutMs: 1_000 } });
    g.ready(await echoReplica(200));
    const answers = await Promise.all([1, 2].map(() => post(g.url, '{"a":1}')));
    expect(answers.map((a) => a.status)).toEqual([200, 200]);
    await waitUntil('the sink holds connections', () => sockets.length >= 1);
    expect(await g.outcome('sent')).toBe(0);
    expect(g.delivery.queued).toBe(4);
    await advanceUntil(g.deliveryClock, 'four failed', async () => (await g.outcome('failed')) === 4, 250);
    expect(await g.outcome('retried')).toBe(8);
  });

  it('a slow sink: requests answer before the sink does; the events are sent once it answers', async () => {
    const s = await sink(() => undefined); // answers only when the test says so
    const g = await front(s.url);
    g.ready(await echoReplica(200));
    const r = await post(g.url, '{"a":1}');
    expect(r.status).toBe(200);
    await waitUntil('both events arrived, unanswered', () => s.pending.length === 2);
    expect(await g.outcome('sent')).toBe(0);
    for (const res of s.pending) res.writeHead(200).end();
    await waitUntil('sent', async () => (await g.outcome('sent')) === 2);
    expect(await g.outcome('retried')).toBe(0);
  });

  it('a sink answering 503 is tried again after a backoff and the event is sent; a 400 fails at once, untried', async () => {
    let calls = 0;
    const s = await sink((res) => res.writeHead(++calls === 1 ? 503 : 202).end());
    const g = await front(s.url, { mode: 'request' });
    g.ready(await echoReplica(200));
    await post(g.url, '{"a":1}');
    await advanceUntil(g.deliveryClock, 'sent after a retry', async () => (await g.outcome('sent')) === 1);
    expect(await g.outcome('retried')).toBe(1);
    expect(s.events.map((e) => e.event.id)).toEqual([s.events[0]!.event.id, s.events[0]!.event.id]);

    const refusing = await sink((res) => res.writeHead(400).end());
    const h = await front(refusing.url, { mode: 'request' });
    h.ready(await echoReplica(200));
    await post(h.url, '{"a":1}');
    await waitUntil('failed', async () => (await h.outcome('failed')) === 1);
    expect(await h.outcome('retried')).toBe(0);
    expect(refusing.events).toHaveLength(1);
  });

  it('a full queue drops new events and counts them; requests are not held back', async () => {
    const s = await sink(() => undefined); // never answers: the first events stay in flight
    const g = await front(s.url, { delivery: { queueEvents: 4, connectionsPerSink: 2 } });
    g.ready(await echoReplica(200));
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(g.url, '{"a":1}')));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(g.delivery.queued).toBe(4);
    expect(await g.outcome('dropped')).toBe(16);
    expect(metricValue(await g.metrics.registry.metrics(), 'sluice_logger_queue_events')).toBe(4);
  });

  it('graceful shutdown delivers what is queued within its grace, and drops (counts) what a hung sink still holds', async () => {
    const s = await sink(() => undefined);
    const g = await front(s.url, { delivery: { connectionsPerSink: 1 } });
    g.ready(await echoReplica(200));
    await post(g.url, '{"a":1}');
    await waitUntil('first event in flight', () => s.pending.length === 1);
    const closed = g.delivery.close(3_000);
    s.pending[0]!.writeHead(200).end();
    await waitUntil('second event in flight', () => s.pending.length === 2);
    // The second is never answered: the grace ends and it is dropped.
    g.deliveryClock.advance(3_000);
    await closed;
    expect(await g.outcome('sent')).toBe(1);
    expect(await g.outcome('dropped')).toBe(1);
    expect(g.delivery.queued).toBe(0);
    // Events after shutdown began are dropped at once.
    await post(g.url, '{"a":1}');
    expect(await g.outcome('dropped')).toBe(3);
  });
});

describe('request/response logging: a JSON-lines file sink (embedded mode)', () => {
  it('writes one CloudEvents JSON object per line (JSON payloads as data), and rotates at its size bound', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-logger-'));
    const file = join(dir, 'logs', 'iris.jsonl');
    const g = await front(pathToFileURL(file).href, { delivery: { fileMaxBytes: 4_000 } });
    g.ready(await echoReplica(200));
    await post(g.url, '{"instances":[[1,2,3,4]]}', { 'x-request-id': 'file-1' });
    await waitUntil('sent', async () => (await g.outcome('sent')) === 2);
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ specversion: '1.0', id: 'file-1', type: 'org.kubeflow.serving.inference.request', data: { instances: [[1, 2, 3, 4]] } });
    expect(lines[1]).toMatchObject({ id: 'file-1', statuscode: '200', datacontenttype: 'text/plain; charset=utf-8' });
    expect(Buffer.from(lines[1]!['data_base64'] as string, 'base64').toString()).toBe('{"instances":[[1,2,3,4]]}');
    for (const l of lines) new CloudEvent(l as never, true).validate();
    for (let i = 0; i < 20; i++) await post(g.url, `{"n":${i}}`);
    await waitUntil('sent', async () => (await g.outcome('sent')) === 42);
    expect(existsSync(`${file}.1`)).toBe(true);
    expect(readFileSync(file).length).toBeLessThanOrEqual(4_000);
  });
});
