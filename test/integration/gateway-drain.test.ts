/**
 * SIGTERM under keep-alive load, on a real `sluice serve` process with demo-runtime replicas: every response
 * after the signal says `Connection: close`, idle keep-alive sockets are closed at once, a slow in-flight request
 * finishes, and with a short grace what is cut is logged and counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findFreePort } from '../../deploy/backends/local/free-port.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import type { Embedded } from '../../cli/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { acceptsNow, waitUntil } from '../support/wait.js';

const BODY = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });

interface Serve {
  child: ChildProcess;
  data: number;
  metrics: number;
  out: () => string;
  exited: Promise<number | null>;
}

let running: Serve | null = null;
let embedded: Embedded | null = null;
afterEach(async () => {
  if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
  await embedded?.close();
  running = null;
  embedded = null;
});

async function serve(services: Record<string, string>, settings: string[]): Promise<Serve> {
  const dir = configFolder(services);
  const [data, admin, metrics] = [await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1')];
  const child = spawn(
    process.execPath,
    [
      join(SLUICE_ROOT, 'dist', 'cli', 'main.js'),
      'serve',
      '--config', dir,
      '--data-port', String(data),
      '--admin-port', String(admin),
      '--metrics-port', String(metrics),
      '--data-host', '127.0.0.1',
      '--metrics-host', '127.0.0.1',
      '--state-dir', mkdtempSync(join(tmpdir(), 'sluice-state-')),
      '--log-level', 'info',
      // One process: these tests watch one listening socket close (a new connection is then refused). With
      // workers, one that connects in the moment between the workers' close and the primary's gets a reset
      // instead (docs/architecture.md, "Worker processes"); test/e2e/workers.test.ts drains workers.
      '--workers', '1',
      '--set', ...settings,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  running = { child, data, metrics, out: () => out, exited };
  await waitUntil('the admin API to be ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => null))?.ok, 20_000, 100);
  return running;
}

interface Answer {
  status: number;
  connection: string | undefined;
  socketPort: number;
}

/** One POST on `agent`; resolves with its status, Connection header and the client port of the socket used. */
function predict(port: number, model: string, agent: Agent | false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: `/v1/models/${model}:predict`, agent, headers: { 'content-type': 'application/json' } },
      (res) => {
        const socketPort = res.socket.localPort ?? 0;
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, socketPort }));
        res.on('error', reject);
      },
    );
    // The keep-alive race: a request written on a reused socket just as the server closes it idle. A client
    // retries such a request (Node's docs say so); `reusedSocket` tells the test it was that race.
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    req.end(BODY);
  });
}

/** A keep-alive socket that made one request and now sits idle; `closedAt` is set when the server closes it. */
async function idleSocket(port: number): Promise<{ socket: Socket; closedAt: () => number | null }> {
  const socket = connect(port, '127.0.0.1');
  let closedAt: number | null = null;
  socket.on('close', () => (closedAt = Date.now()));
  socket.on('error', () => undefined);
  let text = '';
  await new Promise<void>((resolve) => {
    socket.on('data', (c: Buffer) => {
      text += c.toString();
      if (text.includes('\r\n\r\n') && text.endsWith('}')) resolve();
    });
    socket.write(
      `POST /v1/models/fast:predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
    );
  });
  expect(text).toMatch(/^HTTP\/1\.1 200/);
  expect(text.toLowerCase()).toContain('connection: keep-alive');
  return { socket, closedAt: () => closedAt };
}

describe('SIGTERM under keep-alive load', () => {
  it('answers Connection: close, closes idle sockets at once, lets a slow request finish, and exits', async () => {
    const s = await serve(
      {
        'fast.yaml': demoService('fast', { predictor: '    minReplicas: 1\n' }),
        'slow.yaml': demoService('slow', { predictor: '    minReplicas: 1\n', env: { SLUICE_DEMO_LATENCY_MS: '5000' } }),
      },
      ['shutdownGraceSeconds=30'],
    );
    await waitUntil('fast to answer', async () => (await predict(s.data, 'fast', false).catch(() => null))?.status === 200, 20_000, 100);
    const idle = await idleSocket(s.data);
    // A keep-alive socket that is half-way through its next request when the signal comes.
    const partial = await idleSocket(s.data);
    partial.socket.write(`POST /v1/models/fast:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n`);
    let partialAnswer = '';
    partial.socket.on('data', (c: Buffer) => (partialAnswer += c.toString()));
    const slow = predict(s.data, 'slow', false).catch((e: unknown) => e);
    await waitUntil(
      'the slow request on its replica',
      async () => /sluice_replica_inflight\{revision="slow-predictor-00001"[^}]*\} 1/.test(await (await fetch(`http://127.0.0.1:${s.metrics}/metrics`)).text()),
      20_000,
      50,
    );
    // A keep-alive loop on 3 sockets.
    const agent = new Agent({ keepAlive: true, maxSockets: 3 });
    let signalled = false;
    const afterSignal: Answer[] = [];
    const failures: unknown[] = [];
    const loops = Array.from({ length: 3 }, async () => {
      for (;;) {
        const sentAfter = signalled;
        const a = await predict(s.data, 'fast', agent).catch((e: unknown) => e);
        if (a instanceof Error) {
          const code = (a as NodeJS.ErrnoException).code;
          if (code === 'ECONNRESET' && (a as { reusedSocket?: boolean }).reusedSocket) continue; // retried, as a client does
          // The only way a loop ends: its connection closed and no new one is accepted. A new connection the kernel
          // completed in the instant the listener closed, before the process took it, is reset by the kernel
          // (Linux resets what is left in a closed listener's accept queue; the request was never read). That
          // reset ends a loop only if the listener is closed by then: a reset while it still accepts is a failure.
          if (code === 'ECONNRESET' && !(await acceptsNow(s.data))) return;
          if (code !== 'ECONNREFUSED') failures.push(a);
          return;
        }
        if (sentAfter) afterSignal.push(a as Answer);
      }
    });
    await new Promise((r) => setTimeout(r, 200));
    const termAt = Date.now();
    s.child.kill('SIGTERM');
    await waitUntil('the process to start draining', () => /SIGTERM: finishing in-flight requests/.test(s.out()), 5_000, 10);
    signalled = true;
    partial.socket.write(`Content-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`);
    await waitUntil('the idle keep-alive socket to be closed', () => idle.closedAt() !== null, 5_000, 10);
    expect(idle.closedAt()! - termAt).toBeLessThan(2_000);
    // The request finished on an open socket after the signal is served, says Connection: close, and the socket closes.
    await waitUntil('the half-sent request to be answered and its socket closed', () => partial.closedAt() !== null, 5_000, 10);
    expect(partialAnswer).toMatch(/^HTTP\/1\.1 200/);
    expect(partialAnswer.toLowerCase()).toContain('connection: close');
    // Every loop ends long before the slow request (5 s) or the grace (30 s): each socket's next answer closes it.
    let loopsEnded = false;
    void Promise.all(loops).then(() => (loopsEnded = true));
    await waitUntil('the keep-alive loops to end', () => loopsEnded, 2_000, 10);
    expect(failures).toEqual([]);
    expect(afterSignal.filter((a) => a.status !== 200 || a.connection !== 'close')).toEqual([]);
    const slowAnswer = (await slow) as Answer;
    expect(slowAnswer).toMatchObject({ status: 200, connection: 'close' });
    expect(await s.exited).toBe(0);
    expect(s.out()).not.toMatch(/shutdown grace over/);
    agent.destroy();
  }, 60_000);

  it('with a short grace, logs the cut request and exits', async () => {
    const s = await serve(
      { 'slow.yaml': demoService('slow', { predictor: '    minReplicas: 1\n', env: { SLUICE_DEMO_LATENCY_MS: '20000' } }) },
      ['shutdownGraceSeconds=1'],
    );
    const slow = predict(s.data, 'slow', false).then(
      (a) => a,
      (e: unknown) => e,
    );
    await waitUntil(
      'the slow request on its replica',
      async () => /sluice_replica_inflight\{revision="slow-predictor-00001"[^}]*\} 1/.test(await (await fetch(`http://127.0.0.1:${s.metrics}/metrics`)).text()),
      20_000,
      50,
    );
    const termAt = Date.now();
    s.child.kill('SIGTERM');
    expect(await slow).toBeInstanceOf(Error);
    expect(Date.now() - termAt).toBeLessThan(5_000);
    expect(await s.exited).toBe(0);
    const line = s.out().split('\n').find((l) => l.includes('shutdown grace over'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 40, heldRefused: 0, forwardedCut: 1, shutdownGraceSeconds: 1 });
  }, 60_000);
});

describe('the drain in-process (embedded close)', () => {
  it('counts what the grace cut: held requests get 503 naming shutdownGraceSeconds, forwarded ones are cut', async () => {
    const dir = configFolder({
      'slow.yaml': demoService('slow', { predictor: '    minReplicas: 1\n', env: { SLUICE_DEMO_LATENCY_MS: '20000' } }),
      'sleepy.yaml': demoService('sleepy', { env: { SLUICE_DEMO_STARTUP_DELAY_MS: '20000' } }),
    });
    embedded = await startTestSluice(dir, { shutdownGraceSeconds: 1 });
    const e = embedded;
    const port = Number(new URL(e.dataUrl).port);
    const slow = predict(port, 'slow', false).catch((err: unknown) => err);
    const held = fetch(`${e.dataUrl}/v1/models/sleepy:predict`, { method: 'POST', body: BODY }).then(async (r) => ({ status: r.status, connection: r.headers.get('connection'), body: await r.text() }));
    await waitUntil('one forwarded and one held', () => e.gateway.activeRequests === 2 && e.metrics.registry.getSingleMetric('sluice_replica_inflight') !== undefined, 20_000, 50);
    await waitUntil('the slow request on its replica', async () => /sluice_replica_inflight\{revision="slow-predictor-00001"[^}]*\} 1/.test(await e.metrics.registry.metrics()), 20_000, 50);
    await e.close();
    expect(await slow).toBeInstanceOf(Error);
    const h = await held;
    expect(h.status).toBe(503);
    expect(h.connection).toBe('close');
    expect(JSON.parse(h.body).error).toMatch(/shutting down.*shutdownGraceSeconds=1/);
    const text = await e.metrics.registry.metrics();
    expect(text).toMatch(/sluice_gateway_shutdown_cut_requests_total\{stage="held"\} 1\n/);
    expect(text).toMatch(/sluice_gateway_shutdown_cut_requests_total\{stage="forwarded"\} 1\n/);
  }, 60_000);
});
