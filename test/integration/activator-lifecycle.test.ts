/**
 * Replicas coming and going under steady load, on real sockets and real demo-runtime processes: a replica
 * SIGKILLed, a scale-down, a replica that stops answering, and the activator entering and leaving the path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { demoStats, inferBody, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { waitUntil } from '../support/wait.js';

let plane: DataPlane | null = null;
afterEach(async () => {
  await plane?.close();
  plane = null;
});

interface Answer {
  id: string;
  status: number;
  body: { id?: string; error?: string };
}

/** `workers` clients each sending one request after another until `total` have been sent. */
async function steadyLoad(url: string, total: number, workers: number, onProgress?: (sent: number) => void): Promise<Answer[]> {
  const out: Answer[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < total) {
        const id = `q-${next++}`;
        onProgress?.(next);
        try {
          const r = await fetch(`${url}/v2/models/iris/infer`, { method: 'POST', body: inferBody(id, 256) });
          out.push({ id, status: r.status, body: (await r.json()) as Answer['body'] });
        } catch (err) {
          out.push({ id, status: 0, body: { error: String(err) } });
        }
      }
    }),
  );
  return out;
}

async function readyReplicas(p: DataPlane, n: number): Promise<void> {
  await p.backend.scale(p.key, n);
  await waitUntil(`${n} replicas in rotation`, () => p.activator.activeReplicas(p.key) === n, 20_000, 50);
}

describe('replicas coming and going under load', () => {
  it('a replica SIGKILLed under load fails only the requests it was serving (502, clear body); the rest succeed', async () => {
    plane = await startDataPlane({ containerConcurrency: 4, env: { SLUICE_DEMO_LATENCY_MS: '100', SLUICE_DEMO_MAX_CONCURRENCY: '4' } });
    const p = plane;
    await readyReplicas(p, 3);
    const victim = p.backend.pids()[1]!; // replica #2
    let killedInflight = -1;
    const answers = await steadyLoad(p.url, 360, 12, (sent) => {
      // Once the load is steady, kill replica #2 at a moment it has requests on it.
      if (sent < 120 || killedInflight >= 0) return;
      const inflight = p.activator.replicas(p.key).find((r) => r.id.endsWith('#2'))!.inflight;
      if (inflight === 0) return;
      killedInflight = inflight;
      process.kill(victim, 'SIGKILL');
    });
    expect(answers).toHaveLength(360);
    expect(killedInflight).toBeGreaterThan(0);
    const failed = answers.filter((a) => a.status !== 200);
    expect(failed.length).toBeGreaterThan(0);
    // Every failure is a request the killed replica had (502, naming it, not retried); nothing else failed.
    for (const f of failed) {
      expect(f.status).toBe(502);
      expect(f.body.error).toMatch(/^replica default\/iris-predictor-00001#2: the replica failed while handling the request .*not retried because it may have been processed/);
    }
    // At most its capacity, plus any sent to it in the instant before the activator learned it was gone.
    expect(failed.length).toBeLessThanOrEqual(8);
    expect(answers.filter((a) => a.status === 200).every((a) => a.body.id === a.id)).toBe(true);
  });

  it('scale-down under load loses no request: draining replicas finish what they have', async () => {
    plane = await startDataPlane({ containerConcurrency: 4, env: { SLUICE_DEMO_LATENCY_MS: '150', SLUICE_DEMO_MAX_CONCURRENCY: '4' } });
    const p = plane;
    await readyReplicas(p, 3);
    // What each replica had in flight at the moment it was told to drain: the work draining must finish.
    const atDraining: number[] = [];
    const stopWatching = p.backend.subscribe((ev) => {
      if (ev.type !== 'draining') return;
      atDraining.push(p.activator.replicas(p.key).find((r) => r.id === ev.endpoint.id)?.inflight ?? -1);
    });
    const answers = await steadyLoad(p.url, 200, 10, (sent) => {
      if (sent === 60) void p.backend.scale(p.key, 1);
    });
    stopWatching();
    // Two replicas drained while the load ran, with requests on them (else this test would prove nothing).
    expect(atDraining).toHaveLength(2);
    expect(atDraining.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.body.id)).size).toBe(200);
    await waitUntil('one replica left', () => p.backend.counts(p.key).ready === 1 && p.activator.replicas(p.key).length === 1, 20_000);
  });

  it('a replica that stops answering (SIGSTOP) leaves rotation by probe and comes back after SIGCONT', async () => {
    plane = await startDataPlane({
      containerConcurrency: 4,
      env: { SLUICE_DEMO_LATENCY_MS: '10' },
      probes: { intervalMs: 100, healthIntervalMs: 100, timeoutMs: 300, failureThreshold: 2 },
    });
    const p = plane;
    await readyReplicas(p, 2);
    const pid = p.backend.pids()[0]!; // replica #1
    process.kill(pid, 'SIGSTOP');
    try {
      await waitUntil('stopped replica out of rotation', () => p.activator.replicas(p.key).find((r) => r.id === `${p.key}#1`)?.state === 'failed', 10_000, 50);
      expect(p.activator.activeReplicas(p.key)).toBe(1);
      const answers = await steadyLoad(p.url, 60, 4);
      expect(answers.filter((x) => x.status !== 200)).toEqual([]);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitUntil('replica back in rotation', () => p.activator.activeReplicas(p.key) === 2, 10_000, 50);
  });

  it('switching the activator in and out of the path under steady load drops and duplicates nothing', async () => {
    plane = await startDataPlane({ containerConcurrency: 4, env: { SLUICE_DEMO_LATENCY_MS: '20', SLUICE_DEMO_MAX_CONCURRENCY: '4', SLUICE_DEMO_REJECT_OVER_CAPACITY: '1' } });
    const p = plane;
    await readyReplicas(p, 2);
    const modes = new Set<boolean>();
    let flip = false;
    const toggler = setInterval(() => {
      flip = !flip;
      p.activator.setExcessBurstCapacity(p.key, flip ? 10 : -1);
      modes.add(p.activator.inPath(p.key));
    }, 15);
    let answers: Awaited<ReturnType<typeof steadyLoad>>;
    try {
      answers = await steadyLoad(p.url, 500, 10);
    } finally {
      clearInterval(toggler);
    }
    expect(modes).toEqual(new Set([true, false]));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.every((a) => a.body.id === a.id)).toBe(true);
    let seen = 0;
    for (const u of p.replicaUrls()) seen += (await demoStats(u)).predictions;
    expect(seen).toBe(500);
  });
});
