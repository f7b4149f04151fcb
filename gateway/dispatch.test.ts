import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Activator, Lease } from '../activator/activator.js';
import { FakeClock } from '../core/clock.js';
import { HttpError } from '../core/errors.js';
import { silentLogger } from '../core/log.js';
import { SluiceMetrics } from '../core/metrics.js';
import type { RevisionView } from './data-plane.js';
import { Dispatch } from './dispatch.js';
import { Exchange } from './exchange.js';
import { ForwardError, type ForwardOptions, type Forwarder, type ForwardSink } from './forwarder.js';
import { Pipeline } from './pipeline.js';
import type { Stage } from './stage.js';

/** What the client got: a status and body written through the error writer, or the replica's status. */
class FakeResponse extends EventEmitter {
  statusCode = 0;
  headersSent = false;
  writableFinished = false;
  shouldKeepAlive = true;
  destroyed = false;
  body = '';
  writeHead(status: number): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }
  end(body?: string): void {
    this.body = body ?? '';
    this.writableFinished = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

/** One replica slot: counts its releases. */
function lease(id: string, heldMs = 0): Lease & { releases: number } {
  return {
    replica: { endpoint: { id, url: `http://${id}` } } as Lease['replica'],
    heldMs,
    coldStart: false,
    viaActivator: heldMs > 0,
    releases: 0,
    release() {
      this.releases++;
    },
  };
}

type Step = (sink: ForwardSink, o: ForwardOptions) => void;

/**
 * The dispatch over an activator that hands out `acquired` in turn and a forwarder that plays `steps` in turn
 * (each step gets the attempt's sink: it may answer before forwardTo returns, later, or throw).
 */
function rig(acquired: Array<Lease | Promise<Lease>>, steps: Step[], stage: Partial<Stage> = {}) {
  const clock = new FakeClock(1_000);
  const hooks: string[] = [];
  const failures: string[] = [];
  const urls: string[] = [];
  const recorder: Stage = {
    name: 'recorder',
    onHold: () => void hooks.push('hold'),
    onHoldEnd: (_ex, err) => void hooks.push(err ? `hold-end ${(err as Error).message}` : 'hold-end'),
    onAttemptEnd: (_ex, err) => void hooks.push(err ? `attempt-end ${(err as ForwardError).code ?? 'error'}` : 'attempt-end'),
    ...stage,
  };
  const activator = {
    acquire: () => {
      const next = acquired.shift();
      if (!next) throw new Error('the test gave the activator no more leases');
      return next;
    },
    reportFailure: (_key: string, id: string) => void failures.push(id),
  } as unknown as Activator;
  const forwarder = {
    forwardTo: (url: string, _req: IncomingMessage, _res: ServerResponse, o: ForwardOptions, sink: ForwardSink) => {
      urls.push(url);
      const step = steps.shift();
      if (!step) throw new Error('the test gave the forwarder no more steps');
      step(sink, o);
    },
  } as unknown as Forwarder;
  const dispatch = new Dispatch({
    clock,
    logger: silentLogger(),
    metrics: new SluiceMetrics(),
    activator,
    forwarder,
    drain: { draining: false },
    observeForward: false,
  });
  const res = new FakeResponse();
  const req = { method: 'POST', url: '/v1/models/m:predict', headers: { 'content-length': '7' } } as unknown as IncomingMessage;
  const ex = new Exchange(req, res as unknown as ServerResponse, clock.now(), clock.monotonic(), new Pipeline([recorder], silentLogger()));
  ex.rev = { key: 'default/m-00001' } as RevisionView;
  ex.deadlineAt = clock.now() + 5_000;
  ex.admitted = true;
  let served = 0;
  const start = (): void => dispatch.start(ex, { served: () => void served++ });
  return { clock, hooks, failures, urls, res, ex, start, served: () => served };
}

describe('Dispatch.start', () => {
  it('a forward that ends before forwardTo returns is answered at once: no promise on the way, the slot released once', () => {
    const slot = lease('a');
    const r = rig([slot], [(sink) => sink.forwarded(200)]);
    r.start();
    // Served synchronously: nothing waited for a promise or a later turn of the event loop.
    expect(r.served()).toBe(1);
    expect(r.ex.status).toBe(200);
    expect(slot.releases).toBe(1);
    expect(r.hooks).toEqual(['attempt-end']);
    expect(r.ex.endpoint?.id).toBe('a');
    // The exchange was the forward's options: the time left before the deadline, the request's own signal.
    expect(r.ex.timeoutMs).toBe(5_000);
  });

  it('a replica that cannot be reached leaves the rotation and the request goes to another one', async () => {
    const [a, b] = [lease('a'), lease('b')];
    const r = rig(
      [a, b],
      [
        (sink) => sink.forwardFailed(new ForwardError(502, true, 'ECONNREFUSED', 'could not reach the replica: refused', true)),
        (sink) => setImmediate(() => sink.forwarded(201)),
      ],
    );
    r.start();
    expect(r.served()).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.served()).toBe(1);
    expect(r.ex.status).toBe(201);
    expect(r.urls).toEqual(['http://a', 'http://b']);
    expect(r.failures).toEqual(['a']);
    expect([a.releases, b.releases]).toEqual([1, 1]);
    expect(r.hooks).toEqual(['attempt-end ECONNREFUSED', 'attempt-end']);
  });

  it('past the deadline a retryable failure is not retried: 502 naming the replica', () => {
    const a = lease('a');
    let r: ReturnType<typeof rig>;
    r = rig(
      [a],
      [
        (sink) => {
          r.clock.advance(6_000);
          sink.forwardFailed(new ForwardError(502, true, 'ECONNREFUSED', 'could not reach the replica: refused', true));
        },
      ],
    );
    r.start();
    expect(r.served()).toBe(1);
    expect(r.res.statusCode).toBe(502);
    expect(JSON.parse(r.res.body)).toEqual({ error: 'replica a: could not reach the replica: refused' });
    expect(r.ex.failure).toMatchObject({ kind: 'upstream_unreachable' });
    expect(a.releases).toBe(1);
  });

  it('an attempt after a hold, or after a failed attempt, gets the time left by the clock: the deadline does not move', async () => {
    let give!: (l: Lease) => void;
    const timeouts: number[] = [];
    let r: ReturnType<typeof rig>;
    r = rig(
      [new Promise<Lease>((resolve) => (give = resolve)), lease('b')],
      [
        (sink, o) => {
          timeouts.push(o.timeoutMs);
          r.clock.advance(1_000);
          sink.forwardFailed(new ForwardError(502, true, 'ECONNREFUSED', 'could not reach the replica: refused', true));
        },
        (sink, o) => {
          timeouts.push(o.timeoutMs);
          sink.forwarded(200);
        },
      ],
    );
    r.start();
    // Held for 2 s of the 5 s deadline, then sent; the first replica refuses after 1 s more.
    r.clock.advance(2_000);
    give(lease('a', 2_000));
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.served()).toBe(1);
    expect(r.ex.status).toBe(200);
    expect(timeouts).toEqual([3_000, 2_000]);
  });

  it('a held request tells the stages the hold began and ended, and is forwarded once a replica has room', async () => {
    const slot = lease('a', 40);
    const r = rig([Promise.resolve(slot)], [(sink) => sink.forwarded(200)]);
    r.start();
    expect(r.hooks).toEqual(['hold']);
    await Promise.resolve();
    expect(r.served()).toBe(1);
    expect(r.hooks).toEqual(['hold', 'hold-end', 'attempt-end']);
    expect(r.ex.heldMs).toBe(40);
    expect(slot.releases).toBe(1);
  });

  it('a hold that fails is answered with its error (504), after the stages heard of it', async () => {
    const r = rig([Promise.reject(new HttpError(504, 'no replica within the deadline'))], []);
    r.start();
    await new Promise((resolve) => setImmediate(resolve));
    expect(r.served()).toBe(1);
    expect(r.hooks).toEqual(['hold', 'hold-end no replica within the deadline']);
    expect(r.res.statusCode).toBe(504);
    expect(JSON.parse(r.res.body)).toEqual({ error: 'no replica within the deadline' });
  });

  it('a stage that throws when the hold ends: the slot is given back, the client gets 500', async () => {
    const slot = lease('a', 10);
    const r = rig([Promise.resolve(slot)], [], {
      onHoldEnd: () => {
        throw new Error('stage bug');
      },
    });
    r.start();
    await Promise.resolve();
    expect(r.served()).toBe(1);
    expect(slot.releases).toBe(1);
    expect(r.res.statusCode).toBe(500);
    expect(r.urls).toEqual([]);
  });

  it('a forwarder that throws before it answered: 500, the slot given back, served once', () => {
    const slot = lease('a');
    const r = rig([slot], [
      () => {
        throw new Error('forwarder bug');
      },
    ]);
    r.start();
    expect(r.served()).toBe(1);
    expect(r.res.statusCode).toBe(500);
    expect(JSON.parse(r.res.body)).toEqual({ error: 'internal gateway error' });
    expect(slot.releases).toBe(1);
  });

  it('a throw after the forward already ended answers nothing twice', () => {
    const slot = lease('a');
    const r = rig([slot], [
      (sink) => {
        sink.forwarded(200);
        throw new Error('late bug');
      },
    ]);
    r.start();
    expect(r.served()).toBe(1);
    expect(r.ex.status).toBe(200);
    expect(r.res.statusCode).toBe(0); // the fake replica's answer is not written by the fake forwarder; no error was
    expect(slot.releases).toBe(1);
  });

  it('a client gone while the request is forwarded gets 499: its connection is closed, nothing is written', () => {
    const slot = lease('a');
    const r = rig([slot], [(sink, o) => o.signal.addEventListener('abort', () => sink.forwardFailed(new ForwardError(499, false, 'UND_ERR_ABORTED', 'client closed the request')))]);
    r.start();
    expect(r.served()).toBe(0);
    (r.ex.signal as { abort(): void }).abort();
    expect(r.served()).toBe(1);
    expect(r.ex.status).toBe(499);
    expect(r.res.destroyed).toBe(true);
    expect(r.res.statusCode).toBe(0);
    expect(slot.releases).toBe(1);
  });
});
