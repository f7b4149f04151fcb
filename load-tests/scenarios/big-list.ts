import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../harness/child-process.js';
import { startLatencyProbe, type Probe } from '../harness/latency-probe.js';
import { runListClients, type ListRead } from '../harness/list-clients.js';
import { REQUESTS } from '../harness/load-result.js';
import { startSampler } from '../harness/sampler.js';
import { formatNumber, median, percentileOfSorted } from '../harness/stats.js';
import { verdict } from '../report/tables.js';
import { startSluiceServer } from '../systems/sluice.js';
import { startUpstreamPair } from '../upstreams/upstream-pair.js';
import type { Scenario, ScenarioContext, ScenarioOutput } from './scenario.js';

/** 750 objects of ~200 KiB: the 150 MB (150 × 1 MB) under the default maxObjectBytes of 256 KiB. */
const SERVICES = 750;
const PAD_BYTES = 200 * 1024;
const CONCURRENT_LISTS = 4;
const NAMESPACE = 'filler';
const GOAL_ADDED_MAX_MS = 20;
const MiB = 1024 * 1024;
const LIST_PATH = `/apis/serving.kserve.io/v1beta1/namespaces/${NAMESPACE}/inferenceservices?limit=1000`;

interface Spread {
  p50: number;
  p99: number;
  max: number;
  n: number;
}

interface ListRound {
  load: [number, number, number];
  baseline: Spread;
  during: Spread;
  /** max latency counted from the intended send (includes the prober's own timer slack) */
  duringCorrectedMax: number;
  failed: number;
  rssBeforeMiB: number;
  rssDuringMiB: number;
  lists: ListRead[];
  /** items of one list parsed after the measured window */
  items: number;
}

/**
 * Admin lists against the data plane: a warm service (static upstream) probed at a low fixed rate while
 * 4 clients list 750 InferenceServices of ~200 KiB each at once (one answer each, `limit=1000`). Reports the
 * data plane's p50/p99/max during the lists against the seconds before, and the sluice process's RSS.
 */
export const bigList: Scenario = {
  name: 'big-list',
  title: `Admin lists of ${SERVICES} × ${PAD_BYTES / 1024} KiB InferenceServices: data-plane latency and memory`,
  systems: ['sluice'],
  needs: ['sluice'],
  run: async (ctx) => {
    const upstreams = await startUpstreamPair(ctx.children);
    const port = await freePort();
    const token = randomBytes(24).toString('base64url');
    const sluice = await startSluiceServer(ctx.children, upstreams, 30_000, { port, token });
    const admin = `http://127.0.0.1:${port}`;
    const pid = sluice.pid;
    if (pid === undefined) throw new Error('big-list needs the sluice process id (for its RSS)');
    const headers = { authorization: `Bearer ${token}` };
    try {
      const t0 = performance.now();
      await createFillers(admin, headers);
      ctx.log(`big-list: ${SERVICES} services created in ${formatNumber((performance.now() - t0) / 1000, 1)} s`);
      const rate = ctx.settings.rate ?? 200;
      const rounds: ListRound[] = [];
      for (let r = 0; r < ctx.settings.rounds; r++) {
        const round = await listRound(ctx, sluice.url, pid, admin, headers, rate);
        rounds.push(round);
        ctx.log(
          `big-list round ${r + 1}: added max ${formatNumber(round.during.max - round.baseline.max, 1)} ms (during ${formatNumber(round.during.max, 1)}, before ${formatNumber(round.baseline.max, 1)}), RSS ${formatNumber(round.rssBeforeMiB)} → ${formatNumber(round.rssDuringMiB)} MiB, load ${round.load.map((l) => l.toFixed(2)).join(' ')}`,
        );
      }
      return report(rounds, rate);
    } finally {
      await sluice.stop();
      await upstreams.stop();
    }
  },
};

function filler(i: number): unknown {
  const name = `filler-${String(i).padStart(4, '0')}`;
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: {
      name,
      namespace: NAMESPACE,
      // At zero and never asked for: no replica, no probe, only the stored object.
      annotations: { 'autoscaling.knative.dev/initial-scale': '0', 'bench.sluice.dev/pad': 'x'.repeat(PAD_BYTES) },
    },
    spec: { predictor: { minReplicas: 0, containers: [{ name: 'kserve-container', image: 'bench/json-responder:1' }] } },
  };
}

async function createFillers(admin: string, headers: Record<string, string>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < SERVICES) {
      const i = next++;
      const doc = filler(i) as { metadata: { name: string } };
      const r = await fetch(`${admin}/apis/serving.kserve.io/v1beta1/namespaces/${NAMESPACE}/inferenceservices/${doc.metadata.name}`, {
        method: 'PUT',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify(doc),
      });
      if (r.status !== 201) throw new Error(`creating ${doc.metadata.name}: HTTP ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** A full list parsed: how many items it holds. */
async function checkedList(admin: string, headers: Record<string, string>): Promise<number> {
  const r = await fetch(`${admin}${LIST_PATH}`, { headers });
  return ((await r.json()) as { items: unknown[] }).items.length;
}

async function listRound(ctx: ScenarioContext, dataUrl: string, pid: number, admin: string, headers: Record<string, string>, rate: number): Promise<ListRound> {
  const rss = startSampler(100, async () => ({ t: performance.now(), mib: rssMiB(pid) }));
  const probe = startLatencyProbe(dataUrl, REQUESTS.GET, rate);
  const warm = performance.now() + 1000;
  await sleep(1000 + ctx.settings.durationS * 1000);
  const load = loadavg() as [number, number, number];
  const listStart = performance.now();
  const lists = await runListClients(`${admin}${LIST_PATH}`, headers, CONCURRENT_LISTS);
  const listEnd = performance.now();
  await sleep(500);
  await probe.stop();
  await rss.stop();
  const items = await checkedList(admin, headers);
  const before = probe.probes.filter((p) => p.intended >= warm && p.intended < listStart);
  const during = probe.probes.filter((p) => p.intended >= listStart && p.intended <= listEnd);
  const rssBefore = rss.samples.filter((s) => s.t < listStart).at(-1)?.mib ?? Number.NaN;
  const rssDuring = Math.max(...rss.samples.filter((s) => s.t >= listStart && s.t <= listEnd + 100).map((s) => s.mib));
  return {
    load,
    baseline: spread(before),
    during: spread(during),
    duringCorrectedMax: Math.max(0, ...during.map((p) => p.done - p.intended)),
    failed: [...before, ...during].filter((p) => p.status !== 200).length,
    rssBeforeMiB: rssBefore,
    rssDuringMiB: rssDuring,
    lists,
    items,
  };
}

/** Service latency (from the actual send) of probes. */
function spread(probes: readonly Probe[]): Spread {
  const sorted = Float64Array.from(probes.map((p) => p.done - p.sent)).sort();
  return { p50: percentileOfSorted(sorted, 0.5), p99: percentileOfSorted(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN, n: sorted.length };
}

function report(rounds: readonly ListRound[], rate: number): ScenarioOutput {
  const f = (v: number): string => formatNumber(v, 1);
  const rows = rounds.map((r, i) => {
    const listMs = r.lists.map((l) => l.ms);
    return `| ${i + 1} | ${r.load.map((l) => l.toFixed(2)).join(' ')} | ${f(r.baseline.p50)} / ${f(r.baseline.p99)} / ${f(r.baseline.max)} (${r.baseline.n}) | ${f(r.during.p50)} / ${f(r.during.p99)} / ${f(r.during.max)} (${r.during.n}) | ${f(r.during.p50 - r.baseline.p50)} / ${f(r.during.p99 - r.baseline.p99)} / **${f(r.during.max - r.baseline.max)}** | ${f(r.duringCorrectedMax)} | ${formatNumber(r.rssBeforeMiB)} → ${formatNumber(r.rssDuringMiB)} | ${formatNumber(Math.min(...listMs))}–${formatNumber(Math.max(...listMs))} ms, ${formatNumber(r.lists[0]!.bytes / MiB, 1)} MiB, ${r.lists.every((l) => l.whole) ? 'whole' : '**cut**'}, ${r.items} items | ${r.failed} |`;
  });
  const added = rounds.map((r) => r.during.max - r.baseline.max);
  const worst = Math.max(...added);
  return {
    charts: [],
    markdown: [
      `${SERVICES} InferenceServices of ~${PAD_BYTES / 1024} KiB each (an annotation; ${formatNumber((SERVICES * PAD_BYTES) / MiB)} MiB in all, the`,
      `issue's 150 × 1 MB under the default maxObjectBytes of 256 KiB) at zero, beside the warm \`bench\` service`,
      `(static upstream). A prober sends \`GET /v1/models/bench\` at ${rate} req/s (open loop); after the baseline`,
      `seconds, ${CONCURRENT_LISTS} clients each list all ${SERVICES} at once (\`?limit=${1000}\`, one streamed answer each; the`,
      'clients run on a worker thread and read each body as it arrives, so they never hold up the prober).',
      'Latency is counted from the actual send (the column "from intended" adds the prober\'s own timer slack).',
      'RSS of the sluice process, sampled every 100 ms: the last sample before the lists → the highest during them.',
      '',
      '| round | load avg (1/5/15 min) | before: p50 / p99 / max ms (n) | during lists: p50 / p99 / max ms (n) | added p50 / p99 / max ms | during max from intended ms | RSS MiB | each list | non-200 |',
      '|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      verdict(`added max latency, worst round (goal ≤ ${GOAL_ADDED_MAX_MS} ms)`, `${f(worst)} ms (median over rounds ${f(median(added))} ms)`, worst <= GOAL_ADDED_MAX_MS),
      '',
    ].join('\n'),
  };
}
