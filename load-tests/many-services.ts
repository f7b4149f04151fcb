/**
 * Scale of the control plane: N InferenceServices registered in one embedded Sluice (static backend, no
 * processes). Reports the memory they cost, the cost of a route lookup among them, the time of one autoscaler
 * decision tick over all of them, and the time to register them.
 * Usage: npm run load:many-services [-- --services 10000]
 * Run with --expose-gc for stable memory numbers (the npm script does).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseInferenceService } from '../api/inferenceservice.js';
import { startEmbedded } from '../cli/embedded.js';
import { resolveServeConfig } from '../core/config.js';
import { silentLogger } from '../core/log.js';
import { StaticBackend } from '../deploy/backends/static-backend.js';
import { matchRoute } from '../gateway/route-table.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

function heapMiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

async function main(): Promise<void> {
  const n = arg('--services', 10_000);
  const sluice = await startEmbedded({
    config: resolveServeConfig({ dataHost: '127.0.0.1', dataPort: 0, adminPort: 0, metricsHost: '127.0.0.1', metricsPort: 0, logLevel: 'silent', tickSeconds: 3600, stateDir: mkdtempSync(join(tmpdir(), 'sluice-state-')) }),
    configDir: null,
    logger: silentLogger(),
    backend: new StaticBackend(() => ['http://127.0.0.1:9']),
  });
  const before = heapMiB();
  const rssBefore = process.memoryUsage().rss / 2 ** 20;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const doc = {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: `model-${i}`, namespace: `team-${i % 50}`, annotations: { 'autoscaling.knative.dev/initial-scale': '0' } },
      spec: { predictor: { minReplicas: 0, model: { modelFormat: { name: 'sklearn' }, storageUri: `gs://models/${i}` } } },
    };
    await sluice.controller.apply(parseInferenceService(doc).object, 'bench');
  }
  const registerMs = performance.now() - t0;
  const after = heapMiB();
  const rssAfter = process.memoryUsage().rss / 2 ** 20;

  // Route lookups by host and by path, spread over every service.
  const { routes } = sluice.snapshot.current;
  const lookups = 200_000;
  const t1 = performance.now();
  let found = 0;
  for (let i = 0; i < lookups; i++) {
    const k = i % n;
    const m = i % 2 === 0
      ? matchRoute(routes, `model-${k}.team-${k % 50}.example.com`, '/v1/models/x:predict')
      : matchRoute(routes, undefined, `/serving/team-${k % 50}/model-${k}/v1/models/model-${k}:predict`);
    if (m) found++;
  }
  const lookupNs = ((performance.now() - t1) * 1e6) / lookups;

  // One autoscaler decision over every revision.
  const autoscaler = sluice.autoscaler;
  const ticks: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    await autoscaler.tick();
    ticks.push(performance.now() - t);
  }
  ticks.sort((a, b) => a - b);
  // After ticks every revision has all its autoscaler series, as in a running gateway.
  const afterTicks = heapMiB();

  const out = {
    services: n,
    registerSeconds: +(registerMs / 1000).toFixed(1),
    heapMiB: +(after - before).toFixed(1),
    heapAfterTicksMiB: +(afterTicks - before).toFixed(1),
    rssMiB: +(rssAfter - rssBefore).toFixed(1),
    kiBPerServiceHeap: +(((after - before) * 1024) / n).toFixed(1),
    routeLookupNs: +lookupNs.toFixed(0),
    routesFound: `${found}/${lookups}`,
    autoscalerTickMs: { median: +ticks[2]!.toFixed(1), max: +ticks[4]!.toFixed(1) },
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  await sluice.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
