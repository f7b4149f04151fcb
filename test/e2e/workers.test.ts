import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFolder, demoService } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';
import { waitUntil } from '../support/wait.js';

/**
 * `sluice serve --workers 2`: real processes, two gateway workers sharing the data port (node:cluster hands
 * new connections to them in turn), demo-runtime replicas that count the predictions they have at once.
 */

const BODY = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });

function service(name: string, cc: number, maxReplicas: number, latencyMs: number, more = '', annotations?: Record<string, string>): string {
  return demoService(name, {
    predictor: `    minReplicas: 0\n    maxReplicas: ${maxReplicas}\n    containerConcurrency: ${cc}\n${more}`,
    env: { SLUICE_DEMO_LATENCY_MS: String(latencyMs) },
    annotations,
  });
}

/** One request on its own connection (so the two workers both get some). */
async function predict(s: ServeProcess, name: string): Promise<number | string> {
  try {
    const r = await fetch(`${s.dataUrl}/v1/models/${name}:predict`, { method: 'POST', body: BODY, headers: { connection: 'close' }, signal: AbortSignal.timeout(15_000) });
    const text = await r.text();
    return r.status === 200 ? 200 : `${r.status} ${text}`;
  } catch (err) {
    return String(err);
  }
}

/** The pids of a process's children, and for replicas, their port (from `--port` in their command line). */
function children(pid: number): Array<{ pid: number; port: number | null; model: string | null; worker: boolean }> {
  let out = '';
  try {
    out = execFileSync('pgrep', ['-P', String(pid)]).toString();
  } catch {
    return [];
  }
  return out
    .trim()
    .split('\n')
    .filter(Boolean)
    .flatMap((p) => {
      let cmd: string[];
      try {
        cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      } catch {
        return []; // exited since pgrep listed it (a replica scaled down, a worker killed)
      }
      const i = cmd.indexOf('--port');
      const m = cmd.indexOf('--model-name');
      return [{ pid: Number(p), port: i > 0 ? Number(cmd[i + 1]) : null, model: m > 0 ? cmd[m + 1]! : null, worker: cmd.some((c) => c.endsWith('worker-main.js')) }];
    });
}

async function replicaStats(s: ServeProcess): Promise<Array<{ predictions: number; maxConcurrent: number; port: number; model: string | null }>> {
  const out = [];
  for (const c of children(s.child.pid!)) {
    if (c.port === null) continue;
    const st = (await (await fetch(`http://127.0.0.1:${c.port}/demo/stats`)).json()) as { predictions: number; maxConcurrent: number };
    out.push({ ...st, port: c.port, model: c.model });
  }
  return out;
}

describe('sluice serve --workers 2', () => {
  let s: ServeProcess;
  beforeAll(async () => {
    const dir = configFolder({
      'gpu.yaml': service('gpu', 1, 1, 40),
      'quad.yaml': service('quad', 4, 1, 40),
      // 11 clients × 1 s requests at target 3 per replica want 4 replicas; one worker's half alone would want 2.
      'step.yaml': service('step', 0, 10, 1000, '    scaleTarget: 3\n', {
        'autoscaling.knative.dev/initial-scale': '0',
        'autoscaling.knative.dev/window': '6s',
        'autoscaling.knative.dev/target-utilization-percentage': '100',
      }),
    });
    s = await startServe(mkdtempSync(join(tmpdir(), 'sluice-workers-')), ['--config', dir, '--workers', '2', '--set', 'tickSeconds=0.5']);
  }, 60_000);
  afterAll(() => stopServe(s));

  it('runs two worker processes beside the primary', () => {
    expect(children(s.child.pid!).filter((c) => c.worker)).toHaveLength(2);
  });

  it('cc=1, one replica: a revision at zero is woken once, every held request at either worker is served, never 2 at once', async () => {
    const answers = await Promise.all(Array.from({ length: 24 }, () => predict(s, 'gpu')));
    expect(answers.filter((a) => a !== 200)).toEqual([]);
    const stats = await replicaStats(s);
    const gpu = stats.filter((x) => x.predictions >= 24);
    // One replica of gpu started (maxReplicas 1), it got all 24, and never more than containerConcurrency at once.
    expect(gpu).toHaveLength(1);
    expect(gpu[0]!.maxConcurrent).toBe(1);
  }, 60_000);

  it('cc=4: concurrent load through both workers never puts more than 4 on the replica', async () => {
    const answers = await Promise.all(Array.from({ length: 60 }, () => predict(s, 'quad')));
    expect(answers.filter((a) => a !== 200)).toEqual([]);
    const quad = (await replicaStats(s)).filter((x) => x.predictions === 60);
    expect(quad).toHaveLength(1);
    expect(quad[0]!.maxConcurrent).toBeLessThanOrEqual(4);
    // Which worker accepts each connection is the kernel's choice (SCHED_NONE), so this test cannot make both take
    // part; that two gateways' shares add up to cc and never overlap is activator/shares.test.ts's.
  }, 60_000);

  it('the autoscaler sees the sum of both workers: 11 clients at target 3 get 4 replicas', async () => {
    let stop = false;
    const failures: Array<number | string> = [];
    const clients = Array.from({ length: 11 }, async () => {
      while (!stop) {
        const a = await predict(s, 'step');
        if (a !== 200) failures.push(a);
      }
    });
    try {
      await waitUntil('4 replicas of step', () => children(s.child.pid!).filter((c) => c.model === 'step').length === 4, 40_000, 200);
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    expect(failures).toEqual([]);
  }, 60_000);

  it('a worker killed under load: only its in-flight requests fail, the primary starts another, and serving goes on', async () => {
    const before = children(s.child.pid!).filter((c) => c.worker);
    const victim = before[0]!;
    const load = Promise.all(Array.from({ length: 40 }, (_, i) => new Promise<number | string>((r) => setTimeout(() => r(predict(s, 'quad')), i * 10))));
    await new Promise((r) => setTimeout(r, 150));
    process.kill(victim.pid, 'SIGKILL');
    const answers = await load;
    const failed = answers.filter((a) => a !== 200);
    // Failed at once (its connections closed), none left waiting: no connection is stranded with the dead worker.
    expect(failed.filter((a) => String(a).includes('Timeout'))).toEqual([]);
    // Requests in flight on the killed worker fail (at most its share of the replica plus those it held).
    expect(failed.length).toBeLessThan(answers.length / 2);
    await waitUntil('the primary to start another worker', () => children(s.child.pid!).filter((c) => c.worker && c.pid !== victim.pid).length === 2, 15_000, 100);
    expect(s.output()).toMatch(/worker stopped; starting another/);
    const again = await Promise.all(Array.from({ length: 20 }, () => predict(s, 'quad')));
    expect(again.filter((a) => a !== 200)).toEqual([]);
    const quad = (await replicaStats(s)).filter((x) => x.model === 'quad');
    expect(quad).toHaveLength(1);
    expect(quad[0]!.maxConcurrent).toBeLessThanOrEqual(4);
  }, 60_000);

  it('SIGTERM drains every worker and the primary exits 0', async () => {
    const workers = children(s.child.pid!).filter((c) => c.worker);
    const pending = predict(s, 'gpu');
    await new Promise((r) => setTimeout(r, 20));
    s.child.kill('SIGTERM');
    expect(await pending).toBe(200);
    expect(await s.exited).toBe(0);
    await waitUntil('workers to exit', () => workers.every((w) => !existsPid(w.pid)), 5_000, 50);
  }, 60_000);
});

/** The pids of the serve process's workers. */
function workerPids(s: ServeProcess): number[] {
  return children(s.child.pid!)
    .filter((c) => c.worker)
    .map((c) => c.pid);
}

/** Resumes any worker a test stopped (SIGSTOP), then stops the server with SIGTERM and waits for it. */
async function stopServe(s: ServeProcess | undefined, workers: readonly number[] = []): Promise<void> {
  for (const pid of workers) if (existsPid(pid)) process.kill(pid, 'SIGCONT');
  if (s?.child.exitCode === null) {
    s.child.kill('SIGTERM');
    await s.exited;
  }
}

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * What a single process does for the whole port, across two workers: `/metrics` sums them, an API key revoked
 * through the admin API is refused by both from the answer on, a rate limit holds in total. Which worker accepts a
 * connection is the kernel's choice, so a test sends through one worker by stopping the other (SIGSTOP: it cannot
 * accept, the shared socket's connections go to the one that runs) and resumes it after.
 */
describe('sluice serve --workers 2: metrics, API keys and rate limits across workers', () => {
  let s: ServeProcess;
  let workers: number[];
  beforeAll(async () => {
    const dir = configFolder({
      'plain.yaml': demoService('plain', { predictor: '    minReplicas: 1\n' }),
      'keyed.yaml': demoService('keyed', { predictor: '    minReplicas: 1\n', annotations: { 'sluice.dev/auth': 'api-key' } }),
      'limited.yaml': demoService('limited', { predictor: '    minReplicas: 1\n', annotations: { 'sluice.dev/rate-limit': '2', 'sluice.dev/rate-limit-burst': '10' } }),
    });
    s = await startServe(mkdtempSync(join(tmpdir(), 'sluice-workers-shared-')), ['--config', dir, '--workers', '2']);
    workers = workerPids(s);
    expect(workers).toHaveLength(2);
    // Every worker routes to every replica (each has seen it ready and settled its share).
    const ready = async (): Promise<boolean> => {
      for (const i of [0, 1])
        for (const n of ['plain', 'keyed', 'limited']) {
          const code = await through(i, () => fetch(`${s.dataUrl}/v1/models/${n}`, { headers: { connection: 'close' }, signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0));
          if (code !== 200 && code !== 401) return false;
        }
      return true;
    };
    await waitUntil('the replicas to serve through each worker', ready, 40_000, 200);
  }, 60_000);
  afterAll(() => stopServe(s, workers));

  /** Runs `fn` while only worker `i` can accept connections. */
  async function through<T>(i: number, fn: () => Promise<T>): Promise<T> {
    const others = workers.filter((_, j) => j !== i);
    for (const pid of others) process.kill(pid, 'SIGSTOP');
    try {
      return await fn();
    } finally {
      for (const pid of others) process.kill(pid, 'SIGCONT');
    }
  }

  async function call(name: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    const r = await fetch(`${s.dataUrl}/v1/models/${name}:predict`, { method: 'POST', body: BODY, headers: { connection: 'close', ...headers }, signal: AbortSignal.timeout(15_000) });
    return { status: r.status, text: await r.text() };
  }

  async function scrape(): Promise<string> {
    return (await fetch(`${s.metricsUrl}/metrics`, { signal: AbortSignal.timeout(15_000) })).text();
  }

  const PLAIN = { namespace: 'default', service: 'plain', revision: 'plain-predictor-00001', code: '200' };

  it('/metrics sums both workers: requests, the latency histogram bucket by bucket, once per series', async () => {
    // The readiness checks above went through the workers too (and are counted): this test counts from here.
    const rev = { namespace: 'default', service: 'plain', revision: 'plain-predictor-00001' };
    const at = await scrape();
    const base = (name: string, labels: Record<string, string>): number => metricValue(at, name, labels) ?? 0;
    const [requests0, count0, inf0] = [base('sluice_requests_total', PLAIN), base('sluice_request_duration_seconds_count', rev), base('sluice_request_duration_seconds_bucket', { ...rev, le: '+Inf' })];
    const first = await through(0, () => Promise.all(Array.from({ length: 7 }, () => call('plain'))));
    const second = await through(1, () => Promise.all(Array.from({ length: 5 }, () => call('plain'))));
    expect([...first, ...second].map((a) => a.status)).toEqual(Array(12).fill(200));
    const text = await scrape();
    expect(metricValue(text, 'sluice_requests_total', PLAIN)! - requests0).toBe(12);
    expect(metricValue(text, 'sluice_request_duration_seconds_count', rev)! - count0).toBe(12);
    expect(metricValue(text, 'sluice_request_duration_seconds_bucket', { ...rev, le: '+Inf' })! - inf0).toBe(12);
    // Each family once (its HELP line), not once per process.
    expect(text.match(/^# HELP sluice_requests_total /gm)).toHaveLength(1);
    expect(metricValue(text, 'sluice_workers')).toBe(2);
    expect(metricValue(text, 'sluice_workers_scraped')).toBe(2);
    // A state, not a sum: in the path or not, whatever the number of processes.
    expect(metricValue(text, 'sluice_activator_in_path', rev)).toBeLessThanOrEqual(1);
  }, 60_000);

  it('a worker that does not answer is left out after the wait, and a gauge says so', async () => {
    const before = metricValue(await scrape(), 'sluice_requests_total', PLAIN)!;
    process.kill(workers[1]!, 'SIGSTOP');
    let text: string;
    try {
      text = await scrape();
    } finally {
      process.kill(workers[1]!, 'SIGCONT');
    }
    expect(metricValue(text, 'sluice_workers_scraped')).toBe(1);
    expect(metricValue(text, 'sluice_workers')).toBe(2);
    expect(metricValue(text, 'sluice_requests_total', PLAIN) ?? 0).toBeLessThan(before);
    // logged before the answer; its line may reach this test's pipe a little later
    await waitUntil('the warning to be logged', () => /some workers did not send their metrics in time/.test(s.output()), 5_000, 20);
    expect(metricValue(await scrape(), 'sluice_workers_scraped')).toBe(2);
  }, 60_000);

  it('an API key made through the admin API works on both workers at once; revoked, both refuse it from the answer on', async () => {
    const made = await fetch(`${s.adminUrl}/apis/auth.sluice.dev/v1alpha1/apikeys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ci', scopes: ['default/keyed'] }),
    });
    expect(made.status).toBe(201);
    const key = (await made.json()) as { id: string; key: string };
    const auth = { authorization: `Bearer ${key.key}` };
    for (const i of [0, 1]) expect((await through(i, () => call('keyed', auth))).status).toBe(200);
    const revoked = await fetch(`${s.adminUrl}/apis/auth.sluice.dev/v1alpha1/apikeys/${key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${s.token}` } });
    expect(revoked.status).toBe(200);
    for (const i of [0, 1]) {
      const a = await through(i, () => call('keyed', auth));
      expect(a.status).toBe(401);
      expect(a.text).toContain('unknown or revoked');
    }
  }, 60_000);

  it('a rate limit of 2/s, burst 10, holds across both workers (not 10 per worker)', async () => {
    const started = performance.now();
    const a = await through(0, async () => {
      const out = [];
      for (let i = 0; i < 15; i++) out.push(await call('limited'));
      return out;
    });
    const b = await through(1, async () => {
      const out = [];
      for (let i = 0; i < 15; i++) out.push(await call('limited'));
      return out;
    });
    const seconds = (performance.now() - started) / 1000;
    const allowed = [...a, ...b].filter((x) => x.status === 200).length;
    // The first worker alone takes the whole burst; the second gets only what refilled meanwhile.
    expect(a.filter((x) => x.status === 200).length).toBeGreaterThanOrEqual(10);
    expect(allowed).toBeLessThanOrEqual(10 + Math.ceil(2 * seconds) + 1);
    expect(allowed).toBeLessThan(20);
    const refused = [...a, ...b].find((x) => x.status === 429)!;
    expect(refused.text).toContain('(sluice.dev/rate-limit)');
  }, 60_000);

  it('SIGTERM: a request half-sent to a worker with nothing in flight is still answered, with Connection: close', async () => {
    const socket = await through(0, async () => {
      const c = connect(Number(new URL(s.dataUrl).port), '127.0.0.1');
      await once(c, 'connect');
      c.write('POST /v1/models/plain:predict HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      // accepted by worker 0 (the other cannot accept) before it resumes
      await new Promise((r) => setTimeout(r, 200));
      return c;
    });
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    const closed = once(socket, 'close');
    s.child.kill('SIGTERM');
    await waitUntil('the primary to start draining', () => /SIGTERM: finishing in-flight requests/.test(s.output()), 5_000, 10);
    // the workers have begun their drain (the idle one would have finished it at once)
    await new Promise((r) => setTimeout(r, 300));
    socket.write(`Content-Type: application/json\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`);
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(await s.exited).toBe(0);
  }, 60_000);
});

/**
 * A worker killed right after it forwarded its first requests, before its next report (every 100 ms) could say
 * so. The primary still knows they may run on the replica (the worker said 'busy' at once), so what the worker
 * used is kept out of the others' shares while they run: neither the survivor nor the worker started in its place
 * puts the replica past containerConcurrency, and both serve meanwhile.
 */
describe('sluice serve --workers 2: a worker killed just after its first requests', () => {
  let s: ServeProcess;
  let workers: number[];
  beforeAll(async () => {
    const dir = configFolder({
      'slow.yaml': demoService('slow', { predictor: '    minReplicas: 1\n    maxReplicas: 1\n    containerConcurrency: 4\n', env: { SLUICE_DEMO_LATENCY_MS: '1500' } }),
    });
    s = await startServe(mkdtempSync(join(tmpdir(), 'sluice-workers-kill-')), ['--config', dir, '--workers', '2']);
    workers = workerPids(s);
    expect(workers).toHaveLength(2);
    await waitUntil('slow to be ready', async () => (await fetch(`${s.dataUrl}/v1/models/slow`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0)) === 200, 40_000, 200);
  }, 60_000);
  afterAll(() => stopServe(s, workers));

  it('keeps what it used out of the others’ shares while its requests run; the survivor and its replacement both serve', async () => {
    const [victim, survivor] = workers as [number, number];
    const [port] = (await replicaStats(s)).filter((x) => x.model === 'slow').map((x) => x.port);
    const replica = async (): Promise<{ concurrent: number; maxConcurrent: number }> =>
      (await (await fetch(`http://127.0.0.1:${port!}/demo/stats`)).json()) as { concurrent: number; maxConcurrent: number };
    // Only the victim accepts: of its 4 requests it forwards its share (2 of the replica's 4) and holds 2.
    process.kill(survivor, 'SIGSTOP');
    const first = Array.from({ length: 4 }, () => predict(s, 'slow'));
    try {
      await waitUntil('the victim to forward two', async () => (await replica()).concurrent === 2, 10_000, 1);
      // Stopped at once, so no report leaves it after the forwarding; then killed.
      process.kill(victim, 'SIGSTOP');
      process.kill(victim, 'SIGKILL');
    } finally {
      process.kill(survivor, 'SIGCONT');
    }
    // Those it had accepted fail with it (any it had not are the survivor's).
    await Promise.all(first);
    // The victim's two still run on the replica (1.5 s each); 4 more come meanwhile.
    const second = await Promise.all(Array.from({ length: 4 }, () => predict(s, 'slow')));
    expect(second).toEqual([200, 200, 200, 200]);
    expect((await replica()).maxConcurrent).toBeLessThanOrEqual(4);
    expect(s.output()).toMatch(/worker stopped with requests in flight: its capacity share is kept/);
    // The worker started in its place serves too, while the victim's share is still kept (for the revision's
    // timeout, 300 s): only it can accept now.
    await waitUntil('a worker to listen in the victim’s place', () => (s.output().match(/worker listening/g) ?? []).length === 3, 15_000, 50);
    process.kill(survivor, 'SIGSTOP');
    let third: Array<number | string>;
    try {
      third = await Promise.all(Array.from({ length: 3 }, () => predict(s, 'slow')));
    } finally {
      process.kill(survivor, 'SIGCONT');
    }
    expect(third).toEqual([200, 200, 200]);
    expect((await replica()).maxConcurrent).toBeLessThanOrEqual(4);
  }, 60_000);
});
