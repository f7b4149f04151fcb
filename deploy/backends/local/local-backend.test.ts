import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { revisionKey } from '../../../api/revision.js';
import type { EndpointEvent } from '../../../api/backend.js';
import { LocalBackend, type LocalBackendOptions } from './local-backend.js';
import { demoRevision } from '../../../test/support/demo-revision.js';
import { SLUICE_ROOT } from '../../../test/support/paths.js';
import { pidAlive, waitUntil } from '../../../test/support/wait.js';

const stateDir = mkdtempSync(join(tmpdir(), 'sluice-local-backend-test-'));
const backends: LocalBackend[] = [];

function makeBackend(opts: Partial<LocalBackendOptions> = {}): { backend: LocalBackend; events: EndpointEvent[] } {
  const backend = new LocalBackend({ sluiceRoot: SLUICE_ROOT, cwd: SLUICE_ROOT, stateDir, ...opts });
  backends.push(backend);
  const events: EndpointEvent[] = [];
  backend.subscribe((e) => events.push(e));
  return { backend, events };
}

afterEach(async () => {
  await Promise.all(backends.splice(0).map((b) => b.close()));
});

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

async function predict(url: string, rows: number[][]): Promise<{ status: number; body: unknown; replica: string | null }> {
  const res = await fetch(`${url}/v1/models/iris:predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ instances: rows }),
  });
  return { status: res.status, body: await res.json(), replica: res.headers.get('x-demo-replica') };
}

const readyEvents = (events: EndpointEvent[]) => events.filter((e) => e.type === 'ready');

describe('LocalBackend with the demo runtime', () => {
  it('scales 0 → 2: two distinct ready endpoints that answer predictions', async () => {
    const { backend, events } = makeBackend();
    const rev = demoRevision({ containerConcurrency: 4 });
    const key = revisionKey(rev);
    await backend.apply(rev);
    expect(backend.counts(key)).toEqual({ desired: 0, starting: 0, ready: 0 });
    await backend.scale(key, 2);
    expect(backend.counts(key)).toEqual({ desired: 2, starting: 2, ready: 0 });
    await waitUntil('two ready replicas', () => backend.counts(key).ready === 2, 20_000);

    const eps = backend.endpoints(key);
    expect(eps.map((e) => e.id).sort()).toEqual([`${key}#1`, `${key}#2`]);
    expect(new Set(eps.map((e) => e.url)).size).toBe(2);
    for (const e of eps) {
      expect(e).toMatchObject({ revisionKey: key, capacity: 4 });
      expect(e.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    expect(readyEvents(events)).toHaveLength(2);

    const answers = await Promise.all(eps.map((e) => predict(e.url, [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]])));
    for (const a of answers) expect(a).toMatchObject({ status: 200, body: { predictions: [1, 0] } });
    expect(new Set(answers.map((a) => a.replica)).size).toBe(2);
    expect(backend.pids().map(String).sort()).toEqual(answers.map((a) => a.replica).sort());

    // Idempotent: asking for 2 again starts nothing.
    await backend.scale(key, 2);
    expect(backend.counts(key)).toEqual({ desired: 2, starting: 0, ready: 2 });
  });

  it('restarts a crashed replica: removed, then a new ready endpoint', async () => {
    const { backend, events } = makeBackend();
    const rev = demoRevision();
    const key = revisionKey(rev);
    await backend.apply(rev);
    await backend.scale(key, 1);
    await waitUntil('first replica ready', () => backend.counts(key).ready === 1, 20_000);
    const [pid] = backend.pids();
    process.kill(pid!, 'SIGKILL');

    const removed = await waitUntil('removed event', () => events.find((e) => e.type === 'removed'), 10_000);
    expect(removed).toMatchObject({ endpoint: { id: `${key}#1` } });
    expect(removed.type === 'removed' && removed.reason).toBe('crashed: killed by SIGKILL');
    const again = await waitUntil('replacement ready', () => readyEvents(events)[1], 20_000);
    expect(again.endpoint.id).toBe(`${key}#2`);
    expect(events.map((e) => `${e.type} ${e.endpoint.id}`)).toEqual([
      `ready ${key}#1`,
      `removed ${key}#1`,
      `ready ${key}#2`,
    ]);
    expect((await predict(again.endpoint.url, [[6.3, 3.3, 6.0, 2.5]])).body).toEqual({ predictions: [2] });
    expect(backend.pids()).not.toContain(pid);
  });

  it('scale-down drains: a slow request in flight still completes 200', async () => {
    const { backend, events } = makeBackend({ drainDelayMs: 20 });
    const rev = demoRevision({ env: { SLUICE_DEMO_LATENCY_MS: '1500' } });
    const key = revisionKey(rev);
    await backend.apply(rev);
    await backend.scale(key, 1);
    await waitUntil('replica ready', () => backend.counts(key).ready === 1, 20_000);
    const [ep] = backend.endpoints(key);
    const [pid] = backend.pids();

    const inFlight = predict(ep!.url, [[5.1, 3.5, 1.4, 0.2]]);
    await waitUntil('request in flight', async () => ((await (await fetch(`${ep!.url}/demo/stats`)).json()) as { inFlight: number }).inFlight === 1, 5_000);
    await backend.scale(key, 0);
    expect(events.at(-1)).toMatchObject({ type: 'draining', endpoint: { id: ep!.id } });
    expect(backend.endpoints(key)).toEqual([]);

    expect(await inFlight).toMatchObject({ status: 200, body: { predictions: [0] } });
    const removed = await waitUntil('removed', () => events.find((e) => e.type === 'removed'), 10_000);
    expect(removed.type === 'removed' && removed.reason).toBe('scaled down (exited with code 0)');
    expect(pidAlive(pid!)).toBe(false);
    expect(backend.counts(key)).toEqual({ desired: 0, starting: 0, ready: 0 });
  });

  it('close() stops every replica and leaves no live process', async () => {
    const { backend } = makeBackend();
    const a = demoRevision({ generation: 1 });
    const b = demoRevision({ generation: 2 });
    await backend.apply(a);
    await backend.apply(b);
    await backend.scale(revisionKey(a), 2);
    await backend.scale(revisionKey(b), 1);
    await waitUntil('three ready', () => backend.counts(revisionKey(a)).ready + backend.counts(revisionKey(b)).ready === 3, 20_000);
    const pids = backend.pids();
    expect(pids).toHaveLength(3);
    const listenersBefore = process.listenerCount('exit');
    await backend.close();
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(process.listenerCount('exit')).toBe(listenersBefore - 1);
    await expect(backend.scale(revisionKey(a), 1)).rejects.toThrow(/closed/);
  });

  it('close() during start-up stops replicas that were not ready yet', async () => {
    const { backend, events } = makeBackend();
    const rev = demoRevision({ env: { SLUICE_DEMO_STARTUP_DELAY_MS: '10000' } });
    await backend.apply(rev);
    await backend.scale(revisionKey(rev), 2);
    await waitUntil('two processes', () => backend.pids().length === 2, 10_000);
    const pids = backend.pids();
    await backend.close();
    expect(pids.filter(pidAlive)).toEqual([]);
    expect(events).toEqual([]);
  });

  it('rejects what it cannot run, with a message that says why', async () => {
    const { backend } = makeBackend();
    await expect(backend.apply(demoRevision({ storageUri: 'gs://kfserving-examples/models/sklearn/1.0/model' }))).rejects.toThrow(
      'storageUri scheme gs:// is not supported by the local backend; use file:// or a path',
    );
    await expect(backend.apply(demoRevision({ storageUri: 'file:///no/such/model' }))).rejects.toThrow(
      /model directory \/no\/such\/model .* does not exist/,
    );
    await expect(backend.apply({ ...demoRevision(), local: null })).rejects.toThrow(/has no local launch recipe/);
    await expect(backend.apply(demoRevision({ recipe: { args: ['{{modelPath}}'] } }))).rejects.toThrow(/unknown template \{\{modelPath\}\}/);
    await expect(backend.scale('default/nope-predictor-00001', 1)).rejects.toThrow(/unknown revision/);
  });

  it('kills a replica that never gets ready and starts another after a backoff', async () => {
    const { backend, events } = makeBackend({ restartBackoff: { initialMs: 100 } });
    const rev = demoRevision({
      env: { SLUICE_DEMO_STARTUP_DELAY_MS: '60000' },
      recipe: { startupTimeoutSeconds: 1 },
    });
    const key = revisionKey(rev);
    await backend.apply(rev);
    await backend.scale(key, 1);
    const [first] = await waitUntil('first process', () => (backend.pids().length === 1 ? backend.pids() : false), 10_000);
    await waitUntil('first killed after the start-up timeout', () => !pidAlive(first!), 10_000);
    const [second] = await waitUntil('a second process', () => (backend.pids().length === 1 && backend.pids()[0] !== first ? backend.pids() : false), 10_000);
    expect(second).not.toBe(first);
    expect(backend.counts(key)).toMatchObject({ desired: 1, starting: 1, ready: 0 });
    // Never announced (no ready/draining/removed); the controller is told it failed to start.
    expect(events).toEqual([expect.objectContaining({ type: 'start-failed', reason: 'not ready within 1s; killed by SIGKILL' })]);
  });
});

interface LogEntry {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

function captureLogger(): { logger: LocalBackendOptions['logger']; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (obj: Record<string, unknown>, msg: string) => entries.push({ level, obj, msg });
  return { logger: { info: at('info'), warn: at('warn'), error: at('error') }, entries };
}

describe('LocalBackend with scripted runtimes', () => {
  it('SIGKILLs a replica that ignores SIGTERM once the grace period is over, and forwards its output', async () => {
    const { logger, entries } = captureLogger();
    const { backend, events } = makeBackend({ logger, stopGracePeriodMs: 300, drainDelayMs: 0 });
    const script = [
      "require('http').createServer((q, r) => r.end('ok')).listen(+process.env.PORT, '127.0.0.1');",
      "process.on('SIGTERM', () => console.log('ignoring SIGTERM'));",
    ].join('\n');
    const rev = demoRevision({ recipe: { command: '{{node}}', args: ['-e', script], readinessPath: '/' } });
    const key = revisionKey(rev);
    await backend.apply(rev);
    await backend.scale(key, 1);
    await waitUntil('ready', () => backend.counts(key).ready === 1, 10_000);
    const t0 = Date.now();
    await backend.scale(key, 0);
    const removed = await waitUntil('removed', () => events.find((e) => e.type === 'removed'), 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    expect(removed.type === 'removed' && removed.reason).toBe('scaled down (killed by SIGKILL)');
    expect(entries).toContainEqual(
      expect.objectContaining({ level: 'info', msg: 'ignoring SIGTERM', obj: expect.objectContaining({ replica: `${key}#1`, stream: 'stdout' }) }),
    );
  });

  it('reports a command that cannot start and keeps retrying with backoff', async () => {
    const { logger, entries } = captureLogger();
    const { backend, events } = makeBackend({ logger, restartBackoff: { initialMs: 100 } });
    const rev = demoRevision({ recipe: { command: '/no/such/runtime', args: [] } });
    await backend.apply(rev);
    await backend.scale(revisionKey(rev), 1);
    await waitUntil('two failures', () => entries.filter((e) => e.msg === 'replica failed').length >= 2, 10_000);
    const [first, second] = entries.filter((e) => e.msg === 'replica failed');
    expect(first!.obj).toMatchObject({ reason: 'crashed: could not start: spawn /no/such/runtime ENOENT', failures: 1, restartInMs: 100 });
    expect(second!.obj).toMatchObject({ failures: 2, restartInMs: 200 });
    expect(events.length).toBeGreaterThanOrEqual(2);
    for (const e of events) expect(e).toMatchObject({ type: 'start-failed', reason: 'could not start: spawn /no/such/runtime ENOENT' });
  });

  it('says why a replica exited before ready, with the last line it wrote to stderr', async () => {
    const { backend, events } = makeBackend({ restartBackoff: { initialMs: 60_000 } });
    const rev = demoRevision({ recipe: { command: '{{node}}', args: ['--no-such-flag', '-e', '0'], readinessPath: '/' } });
    await backend.apply(rev);
    await backend.scale(revisionKey(rev), 1);
    const failed = await waitUntil('start-failed', () => events.find((e) => e.type === 'start-failed'), 10_000);
    expect(failed).toMatchObject({ endpoint: { revisionKey: revisionKey(rev) }, reason: `exited with code 9: ${process.execPath}: bad option: --no-such-flag` });
    expect(events.filter((e) => e.type !== 'start-failed')).toEqual([]);
  });

  it('retries at once on another port when the runtime reports EADDRINUSE, then backs off', async () => {
    const { logger, entries } = captureLogger();
    const { backend } = makeBackend({ logger, restartBackoff: { initialMs: 60_000, maxMs: 60_000 } });
    const script = "console.error('Error: listen EADDRINUSE: address already in use 127.0.0.1:' + process.env.PORT); process.exit(1);";
    const rev = demoRevision({ recipe: { command: '{{node}}', args: ['-e', script], readinessPath: '/' } });
    const key = revisionKey(rev);
    await backend.apply(rev);
    await backend.scale(key, 1);
    const failed = await waitUntil('backoff after port races', () => entries.find((e) => e.msg === 'replica failed'), 10_000);
    expect(entries.filter((e) => e.msg.startsWith('port taken'))).toHaveLength(3);
    expect(failed.obj).toMatchObject({ replica: `${key}#4`, reason: 'crashed: exited with code 1', failures: 1, restartInMs: 60_000 });
    expect(backend.counts(key)).toEqual({ desired: 1, starting: 0, ready: 0 });
  });
});

describe('LocalBackend leaves no process behind when its parent dies', () => {
  function startParent(mode: 'hold' | 'exit', dir: string, watchStdin: '1' | '0') {
    const child = spawn(process.execPath, [join(SLUICE_ROOT, 'dist/test/support/backend-parent.js'), mode, dir, watchStdin], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids = new Promise<number[]>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{'));
        if (line) resolve((JSON.parse(line) as { pids: number[] }).pids);
      });
      child.once('exit', (code) => reject(new Error(`backend parent exited early with ${code}`)));
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    return { child, pids, exited };
  }

  it('SIGKILLed parent: the replica notices its stdin closed and exits', async () => {
    const { child, pids, exited } = startParent('hold', stateDir, '1');
    const [replica] = await pids;
    expect(pidAlive(replica!)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    await waitUntil('replica gone', () => !pidAlive(replica!), 10_000);
  });

  it('parent exiting without close(): the exit hook kills the replica', async () => {
    const { pids, exited } = startParent('exit', stateDir, '0');
    const [replica] = await pids.catch(() => [] as number[]);
    await exited;
    expect(replica).toBeGreaterThan(0);
    await waitUntil('replica gone', () => !pidAlive(replica!), 5_000);
  });

  it('SIGKILLed parent of a runtime that ignores stdin: the next backend reaps it from the pidfile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-reap-test-'));
    try {
      const { child, pids, exited } = startParent('hold', dir, '0');
      const [replica] = await pids;
      child.kill('SIGKILL');
      await exited;
      await new Promise((r) => setTimeout(r, 300));
      expect(pidAlive(replica!)).toBe(true); // orphaned: nothing else would stop it
      makeBackend({ stateDir: dir });
      await waitUntil('orphan reaped', () => !pidAlive(replica!), 5_000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
