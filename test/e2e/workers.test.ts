import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFolder, demoService } from '../support/embedded.js';
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
    .map((p) => {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      const i = cmd.indexOf('--port');
      const m = cmd.indexOf('--model-name');
      return { pid: Number(p), port: i > 0 ? Number(cmd[i + 1]) : null, model: m > 0 ? cmd[m + 1]! : null, worker: cmd.some((c) => c.endsWith('worker-main.js')) };
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
  afterAll(async () => {
    if (s?.child.exitCode === null) {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

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

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
