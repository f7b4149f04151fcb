import { readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { configFolder, demoService } from '../../test/support/embedded.js';
import { percentileOfSorted } from '../harness/stats.js';
import { verdict } from '../report/tables.js';
import { startSluiceProcess, type SluiceProcess } from '../support/sluice-process.js';
import type { Scenario, ScenarioContext, ScenarioOutput } from './scenario.js';

/** The service whose latency is watched: warm (one replica kept) before the burst starts. */
const WARM = 'warm';
/** Data-plane probe: one predict every PROBE_EVERY_MS, latency counted from its intended send time. */
const PROBE_EVERY_MS = 50;
/** PUTs to the admin API in flight at once while creating services. */
const CREATE_CONCURRENCY = 8;
const BEFORE_S = 3;
const AFTER_S = 5;
/** The whole creation gives up after this long (the scenario must end by itself). */
const CREATE_DEADLINE_MS = 15 * 60_000;

/**
 * Many services at once on the real local backend (issue 13): `sluice serve` as a child process with the demo
 * runtime; N InferenceServices are created through the admin API (each first revision asks for one replica)
 * while a client measures data-plane latency on an already-warm service. Reports replica processes (most at
 * once, started in all, against the global budget), RSS, the data plane's latency before, during and after
 * the burst, the time to create them all, and that no replica process outlives the run.
 */
export const manyReplicas: Scenario = {
  name: 'many-replicas',
  title: 'Many services: N InferenceServices created at once on the local backend (replica budget, data-plane latency)',
  systems: ['sluice'],
  needs: ['sluice'],
  run: (ctx) => runManyReplicas(ctx),
};

interface Probe {
  at: number;
  ms: number;
  ok: boolean;
}

interface Sample {
  t: number;
  processes: number;
  sluiceRss: number;
  treeRss: number;
}

async function runManyReplicas(ctx: ScenarioContext): Promise<ScenarioOutput> {
  const n = ctx.settings.services;
  const dir = configFolder({ [`${WARM}.yaml`]: demoService(WARM, { predictor: '    minReplicas: 1\n' }) });
  // startSluiceProcess gives it a fresh temporary state directory: nothing of the services is kept or restored.
  const sluice = await startSluiceProcess(dir, { children: ctx.children });
  const probes: Probe[] = [];
  const samples: Sample[] = [];
  let sampling: NodeJS.Timeout | undefined;
  let probing: NodeJS.Timeout | undefined;
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const origin = performance.now();
  let createdMs = NaN;
  let created = 0;
  const createErrors: string[] = [];
  let budget = NaN;
  let leftovers: number[] = [];
  let pending = NaN;
  let deferred = NaN;
  try {
    await waitFor('the warm service', () => predict(sluice, agent).then((r) => r.ok), 60_000);
    budget = (await sluice.metric('sluice_local_replica_budget_limit{resource="replicas"}')) ?? NaN;
    ctx.log(`many-replicas: ${n} services, replica budget ${budget}`);
    sampling = setInterval(() => samples.push(sample(sluice, origin)), 250);
    probing = setInterval(() => {
      const at = performance.now();
      void predict(sluice, agent).then((r) => probes.push({ at: at - origin, ms: performance.now() - at, ok: r.ok }));
    }, PROBE_EVERY_MS);
    await sleep(BEFORE_S * 1000);
    const createStart = performance.now();
    const deadline = Date.now() + CREATE_DEADLINE_MS;
    let next = 0;
    await Promise.all(
      Array.from({ length: CREATE_CONCURRENCY }, async () => {
        while (next < n && Date.now() < deadline) {
          const i = next++;
          const r = await putService(sluice, `svc-${i}`);
          if (r === null) created++;
          else if (createErrors.length < 5) createErrors.push(r);
        }
      }),
    );
    createdMs = performance.now() - createStart;
    ctx.log(`many-replicas: created ${created}/${n} in ${(createdMs / 1000).toFixed(1)} s`);
    const burst = { from: createStart - origin, to: createStart - origin + createdMs };
    pending = (await sluice.metric('sluice_local_replicas_pending')) ?? NaN;
    deferred = (await sluice.metric('sluice_local_replica_admissions_deferred_total')) ?? NaN;
    await sleep(AFTER_S * 1000);
    clearInterval(probing);
    clearInterval(sampling);
    await sleep(1000); // the last probes answer
    const started = startedPids(sluice);
    await sluice.stop();
    leftovers = started.filter(alive);
    for (const pid of leftovers) process.kill(pid, 'SIGKILL');
    return report({ n, created, createdMs, createErrors, budget, probes, samples, burst, started: started.length, leftovers, pending, deferred });
  } finally {
    clearInterval(probing);
    clearInterval(sampling);
    agent.destroy();
    await sluice.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates one InferenceService through the admin API (the demo runtime; its first revision asks for a replica). */
async function putService(sluice: SluiceProcess, name: string): Promise<string | null> {
  const body = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name, namespace: 'default' },
    spec: { predictor: { minReplicas: 0, model: { modelFormat: { name: 'sklearn' }, runtime: 'sluice-demo', storageUri: 'file://./examples/models/iris' } } },
  };
  try {
    const res = await fetch(`${sluice.adminUrl}/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/${name}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...sluice.adminHeaders },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    return res.ok ? null : `${name}: HTTP ${res.status} ${text.slice(0, 200)}`;
  } catch (err) {
    return `${name}: ${(err as Error).message}`;
  }
}

function predict(sluice: SluiceProcess, agent: Agent): Promise<{ ok: boolean }> {
  const body = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });
  return new Promise((resolve) => {
    const req = request(
      `${sluice.dataUrl}/v1/models/${WARM}:predict`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: 30_000 },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ok: res.statusCode === 200 }));
        res.on('error', () => resolve({ ok: false }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ ok: false }));
    req.end(body);
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`many-replicas: ${what} not ready within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/** Direct children of sluice (its replica processes), their RSS and sluice's own. */
function sample(sluice: SluiceProcess, origin: number): Sample {
  const children = childPids(sluice.pid);
  const own = rssOf(sluice.pid);
  return { t: performance.now() - origin, processes: children.length, sluiceRss: own, treeRss: own + children.reduce((a, p) => a + rssOf(p), 0) };
}

function childPids(pid: number): number[] {
  try {
    const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return text ? text.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Every replica process sluice started (its 'replica starting' log lines). */
function startedPids(sluice: SluiceProcess): number[] {
  return sluice.logs.filter((l) => l.msg === 'replica starting' && typeof l['pid'] === 'number').map((l) => l['pid'] as number);
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

interface Results {
  n: number;
  created: number;
  createdMs: number;
  createErrors: string[];
  budget: number;
  probes: Probe[];
  samples: Sample[];
  burst: { from: number; to: number };
  started: number;
  leftovers: number[];
  /** the gauges right after the last service was created */
  pending: number;
  deferred: number;
}

function report(r: Results): ScenarioOutput {
  const phase = (from: number, to: number) => {
    const ps = r.probes.filter((p) => p.at >= from && p.at < to);
    const sorted = Float64Array.from(ps.map((p) => p.ms)).sort();
    return {
      count: ps.length,
      failed: ps.filter((p) => !p.ok).length,
      p50: percentileOfSorted(sorted, 0.5),
      p99: percentileOfSorted(sorted, 0.99),
      max: sorted.length > 0 ? sorted[sorted.length - 1]! : NaN,
    };
  };
  const phases: Array<[string, ReturnType<typeof phase>]> = [
    ['before', phase(0, r.burst.from)],
    ['during the burst', phase(r.burst.from, r.burst.to)],
    ['after', phase(r.burst.to, Infinity)],
  ];
  const maxProcesses = Math.max(0, ...r.samples.map((s) => s.processes));
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const maxSluice = Math.max(0, ...r.samples.map((s) => s.sluiceRss));
  const maxTree = Math.max(0, ...r.samples.map((s) => s.treeRss));
  const failed = phases.reduce((a, [, p]) => a + p.failed, 0);
  const lines = [
    `${r.n} InferenceServices (demo runtime, minReplicas 0, each first revision asks for one replica) created through the admin API, ${CREATE_CONCURRENCY} PUTs in flight, while one predict every ${PROBE_EVERY_MS} ms goes to the warm service \`${WARM}\` (latency from the intended send time). Replica budget (\`maxReplicasTotal\`, the default on this machine): ${r.budget}.`,
    '',
    '## Verdicts',
    '',
    `- ${verdict('services created', `${r.created}/${r.n}`, r.created === r.n)}`,
    `- ${verdict('replica processes at once (most seen, sampled every 250 ms)', `${maxProcesses} ≤ budget ${r.budget}`, maxProcesses <= r.budget)}`,
    `- ${verdict('data-plane requests that failed', String(failed), failed === 0)}`,
    `- ${verdict('replica processes left after sluice stopped', String(r.leftovers.length), r.leftovers.length === 0)}`,
    '',
    '## Figures',
    '',
    `| | value |`,
    `|---|---|`,
    `| time to create all | ${(r.createdMs / 1000).toFixed(1)} s (${(r.created / (r.createdMs / 1000)).toFixed(0)} services/s) |`,
    `| replica processes started in all (a replica that scaled to zero frees its place for a pending one) | ${r.started} |`,
    `| pending replicas right after the last create (\`sluice_local_replicas_pending\`) | ${r.pending} |`,
    `| admissions deferred (\`sluice_local_replica_admissions_deferred_total\`) | ${r.deferred} |`,
    `| sluice RSS, most | ${mib(maxSluice)} |`,
    `| sluice + replicas RSS, most | ${mib(maxTree)} |`,
    '',
    '| data plane | requests | failed | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|',
    ...phases.map(([name, p]) => `| ${name} | ${p.count} | ${p.failed} | ${p.p50.toFixed(1)} | ${p.p99.toFixed(1)} | ${p.max.toFixed(1)} |`),
    ...(r.createErrors.length > 0 ? ['', 'First admin API errors:', '', ...r.createErrors.map((e) => `- ${e}`)] : []),
  ];
  return { markdown: lines.join('\n'), charts: [] };
}
