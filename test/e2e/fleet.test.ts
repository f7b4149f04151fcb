import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stackedLineChart, type Marker } from '../../load-tests/report/svg.js';
import { startTestApiServer, type TestApiServer } from '../kube-apiserver/index.js';
import type { RoleProcessSpec } from '../support/cluster-role-main.js';
import { demoPodRunner, FleetLoad, freePort, startRoleProcess, type DemoPod, type RoleProcess } from '../support/fleet.js';
import { metricValue } from '../support/metrics-text.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { startRedis } from '../support/redis-server.js';
import { waitUntil } from '../support/wait.js';

/**
 * The fleet (issue 20): three gateways, two controllers (leader-elected), the autoscaler — each its own process —
 * over one Redis and the test API server, whose kubelet runs demo-runtime pods as processes. A client spreads
 * closed-loop load across the gateways while the test SIGKILLs a gateway, restarts the autoscaler, and stops and
 * restarts Redis. It writes fleet.svg and fleet.md (per-gateway traffic, replicas, held requests over time) before
 * asserting, so a failed run still leaves its picture: into load-tests/results/raw/ (not tracked), or into
 * SLUICE_TEST_FLEET_REPORT_DIR (`SLUICE_TEST_FLEET_REPORT_DIR=load-tests/results` refreshes the committed copy).
 */
const GROUP = 'serving.sluice.dev';
const NS = 'default';
const REV = 'fleet-predictor-00001';
const CC = 4;
const LEASE_S = 2; // gateways' membership lease: a killed gateway drops out within 2 s + 0.67 s
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function isvc(name: string, predictor: Obj): Obj {
  return {
    apiVersion: `${GROUP}/v1beta1`,
    kind: 'InferenceService',
    metadata: { name, namespace: NS, annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' } },
    spec: { predictor: { minReplicas: 0, ...predictor, model: { modelFormat: { name: 'sklearn' }, runtime: 'sluice-demo', storageUri: 'pvc://models/iris', ...(predictor.model ?? {}) } } },
  };
}

const BODY = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });

interface Sample {
  t: number;
  replicas: number;
  ready: number;
  held: Record<string, number>;
  members: Record<string, number>;
  redisUp: Record<string, number>;
  /** Per replica of the loaded revision: predictions at once now, and its peak so far. */
  pods: Record<string, { predicting: number; peak: number }>;
}

describe('a fleet of gateways over one Redis (real processes)', () => {
  let api: TestApiServer;
  let redis: { url: string; port: number; stop: () => Promise<void> };
  const pods: DemoPod[] = [];
  const roles = new Map<string, RoleProcess>();
  let base: Omit<RoleProcessSpec, 'role' | 'identity' | 'config'>;
  let autoscalerPort: number;
  const config = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    dataHost: '127.0.0.1',
    dataPort: 0,
    adminPort: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
    tickSeconds: 0.5,
    scaleToZeroGraceSeconds: 1,
    logLevel: 'warn',
    gatewayLeaseSeconds: LEASE_S,
    ...extra,
  });
  const startRole = async (role: RoleProcessSpec['role'], identity: string, extra: Record<string, unknown> = {}): Promise<RoleProcess> => {
    const p = await startRoleProcess({ ...base, role, identity, config: config(extra) });
    roles.set(identity, p);
    return p;
  };
  const gatewayConfig = (): Record<string, unknown> => ({ autoscalerUrl: `http://127.0.0.1:${autoscalerPort}` });
  const scrape = async (p: RoleProcess): Promise<string> => (await fetch(`${p.metricsUrl}/metrics`)).text();
  const deployment = (name: string): Obj | undefined => api.get('apps/v1', 'Deployment', NS, name) as Obj | undefined;

  beforeAll(async () => {
    api = await startTestApiServer({ kubelet: { podRunner: demoPodRunner(pods) } });
    redis = await startRedis();
    autoscalerPort = await freePort();
    base = {
      kubeconfig: api.kubeconfigPath,
      group: GROUP,
      redisUrl: redis.url,
      runtimes: [join(SLUICE_ROOT, 'examples', 'runtimes')],
      leaseDurationMs: 2000,
      retryPeriodMs: 200,
    };
    await Promise.all([
      startRole('controller', 'controller-a'),
      startRole('controller', 'controller-b'),
      startRole('autoscaler', 'autoscaler-a', { adminPort: autoscalerPort }),
      startRole('gateway', 'gateway-a', gatewayConfig()),
      startRole('gateway', 'gateway-b', gatewayConfig()),
      startRole('gateway', 'gateway-c', gatewayConfig()),
    ]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([...roles.values()].map((r) => r.stop().catch(() => undefined)));
    await api?.close();
    await redis?.stop();
  });

  it('shares capacity, survives a killed gateway, an autoscaler restart and a Redis outage, and loses no request', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(api.kubeconfigPath);
    const objects = kc.makeApiClient(CustomObjectsApi);
    const create = (body: Obj): Promise<unknown> => objects.createNamespacedCustomObject({ group: GROUP, version: 'v1beta1', namespace: NS, plural: 'inferenceservices', body });
    const gateways = ['gateway-a', 'gateway-b', 'gateway-c'].map((n) => roles.get(n)!);
    const live = new Set(gateways.map((g) => g.spec.identity));

    // Every gateway sees the other two.
    for (const g of gateways) await waitUntil(`${g.spec.identity} to count 3 gateways`, async () => metricValue(await scrape(g), 'sluice_gateway_members') === 3, 15_000, 100);

    // The loaded service (100 ms per prediction, 4 at once per replica, at most 2 replicas: 8 slots for 12 loops)
    // and one that stays at zero until the Redis outage, to be woken through the HTTP poke path.
    await create(isvc('fleet', { maxReplicas: 2, containerConcurrency: CC, model: { env: [{ name: 'SLUICE_DEMO_LATENCY_MS', value: '100' }] } }));
    await create(isvc('fleet-cold', { maxReplicas: 1 }));
    for (const name of ['fleet', 'fleet-cold'])
      for (const g of gateways)
        await waitUntil(
          `${g.spec.identity} to route ${name}`,
          async () => {
            const r = await fetch(`${g.dataUrl}/v1/models/${name}:predict`, { method: 'POST', headers: { 'x-sluice-tag': 'none' }, body: '{}' });
            return /has no tag/.test(await r.text());
          },
          20_000,
          100,
        );
    expect(deployment(REV)?.spec.replicas).toBe(0);

    const load = new FleetLoad({ path: '/v1/models/fleet:predict', body: BODY, concurrency: 12 }, gateways.map((g) => ({ name: g.spec.identity, dataUrl: g.dataUrl! })));
    const samples: Sample[] = [];
    const markers: Marker[] = [];
    const mark = (label: string): number => {
      const t = load.now();
      markers.push({ x: t / 1000, label });
      return t;
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const d = deployment(REV);
        const s: Sample = { t: load.now(), replicas: d?.spec.replicas ?? 0, ready: d?.status?.readyReplicas ?? 0, held: {}, members: {}, redisUp: {}, pods: {} };
        await Promise.all(
          pods
            .filter((p) => p.name.startsWith('fleet-predictor-'))
            .map(async (p) => {
              const n = await p.now();
              if (n) s.pods[p.name] = n;
            }),
        );
        await Promise.all(
          gateways
            .filter((g) => live.has(g.spec.identity))
            .map(async (g) => {
              try {
                const text = await scrape(g);
                s.held[g.spec.identity] = metricValue(text, 'sluice_activator_held_requests', { revision: REV }) ?? 0;
                s.members[g.spec.identity] = metricValue(text, 'sluice_gateway_members') ?? 0;
                s.redisUp[g.spec.identity] = metricValue(text, 'sluice_gateway_redis_up') ?? 0;
              } catch {
                // a gateway being killed
              }
            }),
        );
        samples.push(s);
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const last = (): Sample => samples[samples.length - 1]!;
    const served = (gateway: string, from: number): number => load.records.filter((r) => r.gateway === gateway && r.start >= from && r.status === 200).length;

    let killAt = 0;
    const departedAfterKill: number[] = [];
    let autoscalerRestart: { from: number; to: number; before: number } | null = null;
    let coldStatus = 0;
    let fallbackSent: number | undefined;
    try {
      load.start();
      mark('load starts (at zero)');
      // Scale from zero under load: held requests wake it; demand above 8 slots takes it to its 2 replicas.
      await waitUntil('2 ready replicas under load', () => last()?.ready === 2, 40_000, 100);
      await new Promise((r) => setTimeout(r, 3000));

      // SIGKILL one gateway: the client stops sending it new requests (as a load balancer would), its in-flight
      // requests fail. Once its lease runs out the other two split the capacity, less the share it had settled on:
      // its requests may still run on the replicas until their deadlines (the revision's timeout, 300 s), so it is
      // departed for that long (core/redis-membership.ts).
      live.delete('gateway-c');
      load.remove('gateway-c');
      killAt = mark('SIGKILL gateway-c');
      await roles.get('gateway-c')!.kill();
      for (const g of gateways.filter((x) => live.has(x.spec.identity)))
        await waitUntil(`${g.spec.identity} to count 2 gateways`, async () => metricValue(await scrape(g), 'sluice_gateway_members') === 2, 3 * (LEASE_S * 1000), 100);
      mark('members = 2');
      for (const g of gateways.filter((x) => live.has(x.spec.identity))) departedAfterKill.push(metricValue(await scrape(g), 'sluice_gateway_departed') ?? -1);
      await new Promise((r) => setTimeout(r, 3000));

      // Restart the autoscaler (a clean stop, then a new process on the same address): replicas stay.
      const before = deployment(REV)!.spec.replicas as number;
      const from = mark('autoscaler restart');
      await roles.get('autoscaler-a')!.stop();
      const next = await startRole('autoscaler', 'autoscaler-b', { adminPort: autoscalerPort });
      mark('new autoscaler up');
      const labels = { namespace: NS, service: 'fleet', revision: REV };
      await waitUntil('the new autoscaler to adopt the revision', async () => metricValue(await scrape(next), 'sluice_desired_replicas', labels) !== undefined, 20_000, 100);
      mark('adopted');
      await new Promise((r) => setTimeout(r, 2000));
      autoscalerRestart = { from, to: load.now(), before };

      // Hook (issue 20, the rollout part): killing the controller leader mid-rollout goes here — the controllers
      // are `roles.get('controller-a' | 'controller-b')` (RoleProcess: kill() is SIGKILL, startRole() brings one
      // back); the leader is the holder of the `sluice-controller` Lease (api.get('coordination.k8s.io/v1', …)).

      // Redis down: warm traffic keeps flowing on the last known shares; a request at zero still wakes its
      // revision through the autoscaler's HTTP poke.
      mark('Redis stopped');
      await redis.stop();
      for (const g of gateways.filter((x) => live.has(x.spec.identity)))
        await waitUntil(`${g.spec.identity} to notice Redis is gone`, async () => metricValue(await scrape(g), 'sluice_gateway_redis_up') === 0, 10_000, 100);
      const cold = await fetch(`${gateways[0]!.dataUrl}/v1/models/fleet-cold:predict`, { method: 'POST', body: BODY, signal: AbortSignal.timeout(30_000) });
      coldStatus = cold.status;
      await cold.arrayBuffer();
      fallbackSent = metricValue(await scrape(gateways[0]!), 'sluice_poke_fallback_total', { result: 'sent' });
      mark('cold request answered');
      await new Promise((r) => setTimeout(r, 2000));

      // Redis back (empty: no persistence): the gateways register again and count each other.
      redis = await startRedis(redis.port);
      mark('Redis back');
      for (const g of gateways.filter((x) => live.has(x.spec.identity)))
        await waitUntil(
          `${g.spec.identity} to register again`,
          async () => {
            const text = await scrape(g);
            return metricValue(text, 'sluice_gateway_redis_up') === 1 && metricValue(text, 'sluice_gateway_members') === 2;
          },
          15_000,
          100,
        );
      await new Promise((r) => setTimeout(r, 3000));
    } finally {
      await load.stop();
      mark('load stops');
      sampling = false;
      await sampler;
    }

    const peaks = await Promise.all(pods.filter((p) => p.name.startsWith('fleet-predictor-')).map(async (p) => ({ pod: p.name, peak: await p.peak() })));
    writeReport(load, samples, markers, peaks);

    // What a client sees: every request answered 200, except those in flight on the killed gateway.
    const inFlightOnKilled = load.records.filter((r) => r.gateway === 'gateway-c' && r.start < killAt && r.status === 0);
    const lost = load.records.filter((r) => r.status !== 200 && !inFlightOnKilled.includes(r));
    expect(lost.slice(0, 5), `${lost.length} requests lost`).toEqual([]);
    expect(load.overflowed).toBe(false);
    expect(inFlightOnKilled.length).toBeLessThanOrEqual(12);
    // The killed gateway had requests in flight: each survivor counts it departed (its share kept out).
    expect(departedAfterKill).toEqual([1, 1]);
    // The survivors kept serving after the kill.
    for (const g of ['gateway-a', 'gateway-b']) expect(served(g, killAt + 1000)).toBeGreaterThan(50);
    // The autoscaler restart changed nothing: replicas held their value throughout.
    const during = samples.filter((s) => s.t >= autoscalerRestart!.from && s.t <= autoscalerRestart!.to).map((s) => s.replicas);
    expect(during.length).toBeGreaterThan(5);
    expect(new Set(during)).toEqual(new Set([autoscalerRestart!.before]));
    // Scale from zero with Redis gone went through the HTTP poke.
    expect(coldStatus).toBe(200);
    expect(fallbackSent).toBeGreaterThanOrEqual(1);
    // No replica ever saw more than its containerConcurrency at once, across all three gateways together
    // (needs the capacity split among gateways, activator/capacity-share.ts).
    expect(peaks.length).toBeGreaterThanOrEqual(2);
    for (const p of peaks) expect(p.peak, `${p.pod} saw ${p.peak} predictions at once (containerConcurrency ${CC})`).toBeLessThanOrEqual(CC);
  }, 150_000);
});

/** fleet.svg and fleet.md (see the file's comment for where): per-gateway traffic, replicas and held requests over time. */
function writeReport(load: FleetLoad, samples: readonly Sample[], markers: readonly Marker[], peaks: ReadonlyArray<{ pod: string; peak: number }>): void {
  const dir = process.env['SLUICE_TEST_FLEET_REPORT_DIR'] ?? join(SLUICE_ROOT, 'load-tests', 'results', 'raw');
  mkdirSync(dir, { recursive: true });
  const end = Math.max(0, ...load.records.map((r) => r.end));
  const seconds = Math.ceil(end / 1000);
  const names = [...new Set(load.records.map((r) => r.gateway))].sort();
  const perGateway = names.map((name) => {
    const counts = new Array<number>(seconds + 1).fill(0);
    for (const r of load.records) if (r.gateway === name && r.status === 200) counts[Math.floor(r.end / 1000)]!++;
    return { name, step: true, points: counts.map((c, i) => [i, c] as const) };
  });
  const podNames = [...new Set(samples.flatMap((s) => Object.keys(s.pods)))].sort();
  /** When each replica's peak first reached its final value (between two samples 250 ms apart). */
  const peakSeen = podNames.map((name) => {
    const final = Math.max(0, ...samples.map((s) => s.pods[name]?.peak ?? 0));
    const at = samples.find((s) => (s.pods[name]?.peak ?? 0) === final)?.t ?? 0;
    return `${name} reached ${final} by ${(at / 1000).toFixed(1)} s`;
  });
  const failed = new Array<number>(seconds + 1).fill(0);
  for (const r of load.records) if (r.status !== 200) failed[Math.floor(r.end / 1000)]!++;
  const svg = stackedLineChart({
    title: 'Fleet: 3 gateways, 12 client loops, containerConcurrency 4, at most 2 replicas',
    xLabel: 'seconds since the load started',
    markers,
    panels: [
      { yLabel: 'answered 200 / s', series: [...perGateway, { name: 'failed', step: true, points: failed.map((c, i) => [i, c] as const) }] },
      {
        yLabel: 'replicas',
        integer: true,
        series: [
          { name: 'desired (spec)', step: true, points: samples.map((s) => [s.t / 1000, s.replicas] as const) },
          { name: 'ready', step: true, points: samples.map((s) => [s.t / 1000, s.ready] as const) },
        ],
      },
      {
        yLabel: 'held requests',
        integer: true,
        series: names.map((name) => ({ name, step: true, points: samples.filter((s) => name in s.held).map((s) => [s.t / 1000, s.held[name]!] as const) })),
      },
      {
        yLabel: 'predictions at once per replica (sampled)',
        integer: true,
        series: podNames.map((name, i) => ({ name: `replica ${i + 1}`, step: true, points: samples.filter((s) => name in s.pods).map((s) => [s.t / 1000, s.pods[name]!.predicting] as const) })),
      },
    ],
  });
  writeFileSync(join(dir, 'fleet.svg'), svg);
  const total = load.records.length;
  const ok = load.records.filter((r) => r.status === 200).length;
  const lines = [
    '# Fleet test (test/e2e/fleet.test.ts)',
    '',
    `Written by the last run of the fleet test on ${new Date().toISOString()} (${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)} as it ended). Three gateway processes, two controllers and the`,
    'autoscaler (each its own process), one redis-server, demo-runtime pods as processes; a closed-loop client (12 loops)',
    'spreads requests across the live gateways. Events (markers in the plot):',
    '',
    ...markers.map((m) => `- ${m.x.toFixed(1)} s: ${m.label}`),
    '',
    `Replicas (spec) over the run: ${summary(samples.map((s) => s.replicas))}; between "Redis stopped" and the end: ${summary(samples.filter((s) => s.t >= (markers.find((m) => m.label === 'Redis stopped')?.x ?? Infinity) * 1000).map((s) => s.replicas))}.`,
    '',
    `Requests: ${total} sent, ${ok} answered 200, ${total - ok} not (${load.records.filter((r) => r.status === 0).length} without an answer).`,
    '',
    '| gateway | answered 200 | failed |',
    '|---|---|---|',
    ...names.map((n) => `| ${n} | ${load.records.filter((r) => r.gateway === n && r.status === 200).length} | ${load.records.filter((r) => r.gateway === n && r.status !== 200).length} |`),
    '',
    `Peak predictions at once per replica (containerConcurrency ${CC}): ${peaks.map((p) => `${p.pod} ${p.peak}`).join(', ') || '(none)'}`,
    `(${peakSeen.join('; ') || 'no samples'}).`,
    '',
    '![fleet](fleet.svg)',
    '',
  ];
  writeFileSync(join(dir, 'fleet.md'), lines.join('\n'));
}

function summary(values: readonly number[]): string {
  return values.length === 0 ? '(no samples)' : `min ${Math.min(...values)}, max ${Math.max(...values)}`;
}
