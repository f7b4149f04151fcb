/**
 * Cold-start burst: from zero, N concurrent requests with bodies against a revision whose single replica takes
 * 2 s to start and serves 4 at a time (containerConcurrency 4). Checks every request succeeds exactly once and
 * reports how much Sluice adds beyond the replica's own start-up.
 *
 *   npm run build && node dist/load-tests/cold-start-burst.js [requests=1000] [bodyBytes=1024]
 *
 * Added delay. A perfect activator would start the replica the instant the first request arrives and hand it
 * requests the instant it is ready; requests would then be served 4 at a time in the same order with the same
 * service times. The real schedule is that ideal one shifted by a constant, so every request's added delay
 * (and its p50) is that shift:
 *   (first request held → replica process spawned)            Sluice's wake-up path (poke, scale, spawn)
 * + (replica's own "ready" → first response at the client)     probe + dispatch + forward + first request
 * − (the same, for a client talking to a fresh replica directly the moment it logs "ready")
 * The last term is what the replica itself costs on its first requests (a fresh process is slow the first
 * time through its code); the direct baseline is measured by this script too (median of 3 fresh replicas).
 * The replica's own start-up (spawn → its "ready" log line, including Node's boot) is excluded by definition.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { IRIS_MODEL_DIR, SLUICE_ROOT } from '../test/support/paths.js';
import { configFolder, demoService } from '../test/support/embedded.js';
import { inferBody } from '../test/support/data-plane.js';
import { percentile, startSluiceProcess, type LogLine } from './support/sluice-process.js';

interface Result {
  id: string;
  status: number;
  bodyId: string | undefined;
  ms: number;
  coldStartMs: number | null;
}

async function burst(url: string, n: number, bodyBytes: number, tag: string, agent: Agent): Promise<{ t0: number; results: Result[] }> {
  const t0 = Date.now();
  const results = await Promise.all(
    Array.from({ length: n }, async (_, i): Promise<Result> => {
      const id = `${tag}-${i}`;
      const start = performance.now();
      const r = await request(`${url}/v2/models/burst/infer`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: inferBody(id, bodyBytes),
        headersTimeout: 120_000,
        bodyTimeout: 120_000,
      });
      const body = (await r.body.json()) as { id?: string };
      const cs = r.headers['x-sluice-cold-start'];
      return { id, status: r.statusCode, bodyId: body.id, ms: performance.now() - start, coldStartMs: typeof cs === 'string' ? Number(cs) : null };
    }),
  );
  return { t0, results };
}

function replicaLines(logs: LogLine[]): Array<{ msg: string; time: number; url?: string }> {
  const out: Array<{ msg: string; time: number; url?: string }> = [];
  for (const l of logs) {
    if (l.msg === 'replica starting' || l.msg === 'replica ready') out.push({ msg: `backend: ${l.msg}`, time: l.time, url: l['url'] as string });
    else if (typeof l['stream'] === 'string') {
      try {
        const inner = JSON.parse(l.msg) as { msg: string; time: string };
        out.push({ msg: `replica: ${inner.msg}`, time: Date.parse(inner.time) });
      } catch {
        // not a JSON line
      }
    }
  }
  return out;
}

function check(results: Result[], n: number, label: string): void {
  const bad = results.filter((r) => r.status !== 200 || r.bodyId !== r.id);
  const ids = new Set(results.map((r) => r.bodyId));
  if (bad.length > 0 || ids.size !== n) {
    throw new Error(`${label}: ${bad.length} failed or mismatched, ${ids.size} distinct ids of ${n}: ${JSON.stringify(bad.slice(0, 3))}`);
  }
}

const DEMO_ENV = { SLUICE_DEMO_STARTUP_DELAY_MS: '2000', SLUICE_DEMO_MAX_CONCURRENCY: '4', SLUICE_DEMO_REJECT_OVER_CAPACITY: '1' };

/**
 * A fresh demo replica with no Sluice in front: the moment it logs "ready", 4 requests go to it directly.
 * Returns ms from its "ready" log time to the first response.
 */
async function directFirstResponse(bodyBytes: number): Promise<number> {
  const child = spawn(
    process.execPath,
    [join(SLUICE_ROOT, 'dist', 'examples', 'demo-runtime', 'main.js'), '--port', '0', '--model-name', 'burst', '--model-dir', IRIS_MODEL_DIR],
    { env: { PATH: process.env['PATH'] ?? '', ...DEMO_ENV }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const agent = new Agent({ connections: 8 });
  try {
    const ready = await new Promise<{ port: number; time: string }>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const p of parts) {
          const l = JSON.parse(p) as { msg: string; port: number; time: string };
          if (l.msg === 'ready') resolve(l);
        }
      });
      child.once('exit', () => reject(new Error('demo replica exited')));
    });
    const firsts = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => {
        const r = await request(`http://127.0.0.1:${ready.port}/v2/models/burst/infer`, { method: 'POST', dispatcher: agent, body: inferBody(`direct-${i}`, bodyBytes) });
        await r.body.dump();
        return Date.now();
      }),
    );
    return Math.min(...firsts) - Date.parse(ready.time);
  } finally {
    await agent.close();
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 1000);
  const bodyBytes = Number(process.argv[3] ?? 1024);
  const dir = configFolder({
    'burst.yaml': demoService('burst', {
      annotations: { 'autoscaling.knative.dev/initial-scale': '0' },
      predictor: '    minReplicas: 0\n    maxReplicas: 1\n    containerConcurrency: 4\n',
      env: DEMO_ENV,
    }),
  });
  const direct: number[] = [];
  for (let i = 0; i < 3; i++) direct.push(await directFirstResponse(bodyBytes));
  direct.sort((a, b) => a - b);
  const directReadyToFirst = direct[1]!;
  const sluice = await startSluiceProcess(dir);
  const agent = new Agent({ connections: n + 10, pipelining: 1 });
  try {
    const cold = await burst(sluice.dataUrl, n, bodyBytes, 'cold', agent);
    check(cold.results, n, 'cold burst');
    const warm = await burst(sluice.dataUrl, n, bodyBytes, 'warm', agent);
    check(warm.results, n, 'warm burst');

    const single: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      const r = await request(`${sluice.dataUrl}/v2/models/burst/infer`, { method: 'POST', dispatcher: agent, body: inferBody(`single-${i}`, bodyBytes) });
      await r.body.dump();
      single.push(performance.now() - t);
    }
    single.sort((a, b) => a - b);
    const warmSingle = percentile(single, 50);

    const lines = replicaLines(sluice.logs);
    const heldAt = sluice.logs.find((l) => l.msg === 'scale' && l['reason'] === 'poke' && l['to'] === 1)!.time;
    const spawnAt = lines.find((l) => l.msg === 'backend: replica starting')!.time;
    const readyAt = lines.find((l) => l.msg === 'replica: ready')!.time;
    const announcedAt = lines.find((l) => l.msg === 'backend: replica ready')!;
    const stats = (await (await fetch(`${announcedAt.url}/demo/stats`)).json()) as { predictions: number };
    if (stats.predictions !== 2 * n + 21) throw new Error(`replica counted ${stats.predictions} predictions, expected ${2 * n + 21}`);

    const coldMs = cold.results.map((r) => r.ms).sort((a, b) => a - b);
    const warmMs = warm.results.map((r) => r.ms).sort((a, b) => a - b);
    const startup = readyAt - spawnAt;
    const firstDone = Math.min(...cold.results.map((r) => r.ms)) + cold.t0;
    const wake = spawnAt - heldAt;
    const readyToFirst = firstDone - readyAt;
    const added = wake + readyToFirst - directReadyToFirst;
    const fmt = (x: number): string => `${x.toFixed(1)} ms`;
    console.log(`cold-start burst: ${n} concurrent requests with ${bodyBytes}-byte bodies, containerConcurrency 4, 1 replica, start-up delay 2000 ms`);
    console.log(`  all ${n} succeeded exactly once (cold) and again warm; replica counted ${stats.predictions} predictions (2×${n} + 21)`);
    console.log(`  burst sent → first request held (client connection ramp): ${fmt(heldAt - cold.t0)}`);
    console.log(`  replica's own start-up (spawn → its "ready" log):         ${fmt(startup)}`);
    console.log(`  wake-up (first request held → replica spawned):           ${fmt(wake)}`);
    console.log(`  replica ready → announced (backend probe):                ${fmt(announcedAt.time - readyAt)}`);
    console.log(`  replica ready → first response at the client:             ${fmt(readyToFirst)}`);
    console.log(`  direct, no Sluice: fresh replica "ready" → first response: ${fmt(directReadyToFirst)}  (median of ${direct.map((d) => d.toFixed(0)).join(', ')})`);
    console.log(`  warm single request latency through Sluice (p50 of 21):   ${fmt(warmSingle)}`);
    console.log(`  cold burst latency p50 / p99 / max:  ${fmt(percentile(coldMs, 50))} / ${fmt(percentile(coldMs, 99))} / ${fmt(coldMs.at(-1)!)}`);
    console.log(`  warm burst latency p50 / p99 / max:  ${fmt(percentile(warmMs, 50))} / ${fmt(percentile(warmMs, 99))} / ${fmt(warmMs.at(-1)!)}`);
    console.log(`  ADDED DELAY beyond the replica's start-up, p50:           ${fmt(added)}   (goal ≤ 50 ms)`);
    console.log(`  sluice RSS after: ${(sluice.rss() / 1024 / 1024).toFixed(1)} MiB`);
  } finally {
    await agent.close();
    await sluice.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
