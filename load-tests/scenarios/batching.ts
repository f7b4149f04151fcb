import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { configFolder, demoService } from '../../test/support/embedded.js';
import { mergeBodies, readPart, splitAnswer, type Part } from '../../gateway/batcher/protocols.js';
import { runClosedLoop } from '../harness/closed-loop.js';
import type { LoadResult, RequestShape } from '../harness/load-result.js';
import { formatNumber, median } from '../harness/stats.js';
import { barChart } from '../report/svg.js';
import { verdict } from '../report/tables.js';
import { startSluiceProcess } from '../support/sluice-process.js';
import type { Scenario } from './scenario.js';

/** The runtime: cost per call dominates cost per row, one worker (a GPU model's shape). */
const PER_CALL_MS = 20;
const PER_ROW_MS = 0.2;
const MAX_BATCH = 32;
const MAX_LATENCY_MS = 50;

const service = (name: string, batcher: boolean): string =>
  demoService(name, {
    predictor:
      '    minReplicas: 1\n    maxReplicas: 1\n    containerConcurrency: 1\n' +
      (batcher ? `    batcher:\n      maxBatchSize: ${MAX_BATCH}\n      maxLatency: ${MAX_LATENCY_MS}\n` : ''),
    env: { SLUICE_DEMO_LATENCY_MS: String(PER_CALL_MS), SLUICE_DEMO_LATENCY_PER_ROW_MS: String(PER_ROW_MS), SLUICE_DEMO_MAX_CONCURRENCY: '1' },
  });

const requestFor = (name: string): RequestShape => ({
  method: 'POST',
  path: `/v1/models/${name}:predict`,
  body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }),
  headers: { 'content-type': 'application/json' },
});

/**
 * The latency the batcher adds on an idle replica, finely: one connection, requests sent one at a time and
 * alternating between the two services, so both see the same machine at the same moment; the median of the
 * pairwise differences (µs resolution, unlike the load generator's whole milliseconds).
 */
async function idlePairs(baseUrl: string, pairs: number): Promise<{ plainP50: number; batchedP50: number; addedP50: number }> {
  const pool = new Pool(baseUrl, { connections: 1 });
  const once = async (name: string): Promise<number> => {
    const r = requestFor(name);
    const t0 = performance.now();
    const answer = await pool.request({ path: r.path, method: 'POST', headers: r.headers, body: r.body });
    await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`${name}: ${answer.statusCode}`);
    return performance.now() - t0;
  };
  const plain: number[] = [];
  const batched: number[] = [];
  const diffs: number[] = [];
  try {
    for (let k = 0; k < pairs; k++) {
      // Alternate which goes first, so neither always follows the other.
      const [a, b] = k % 2 === 0 ? [await once('plain'), await once('batched')] : (([x, y]) => [y, x])([await once('batched'), await once('plain')]);
      plain.push(a!);
      batched.push(b!);
      diffs.push(b! - a!);
    }
  } finally {
    await pool.close();
  }
  return { plainP50: median(plain), batchedP50: median(batched), addedP50: median(diffs) };
}

/** ms per MB to merge and split a large v1 body: spliced (the batcher) vs parsed and printed again. */
function spliceCost(): { splicedMsPerMb: number; parsedMsPerMb: number; mb: number } {
  const rows = Array.from({ length: 12_000 }, (_, i) => [i / 7, 2.8, 4.8 + i / 1000, 1.4]);
  const text = JSON.stringify({ instances: rows });
  // The runtime's answer to the merged request of two such callers.
  const answer = JSON.stringify({ predictions: [...rows, ...rows].map((r) => r[0]) });
  const mb = (2 * Buffer.byteLength(text)) / 1e6;
  const timed = (fn: () => void): number => {
    fn();
    const samples: number[] = [];
    for (let k = 0; k < 25; k++) {
      const t0 = performance.now();
      fn();
      samples.push(performance.now() - t0);
    }
    return median(samples) / mb;
  };
  const splicedMsPerMb = timed(() => {
    const a = readPart('v1', text) as Part;
    const b = readPart('v1', text) as Part;
    const merged = mergeBodies([a, b]);
    splitAnswer([a, b], answer);
    return merged;
  });
  const parsedMsPerMb = timed(() => {
    const a = JSON.parse(text) as { instances: unknown[] };
    const b = JSON.parse(text) as { instances: unknown[] };
    const merged = JSON.stringify({ instances: [...a.instances, ...b.instances] });
    const back = JSON.parse(answer) as { predictions: unknown[] };
    JSON.stringify({ predictions: back.predictions.slice(0, rows.length) });
    JSON.stringify({ predictions: back.predictions.slice(rows.length) });
    return merged;
  });
  return { splicedMsPerMb, parsedMsPerMb, mb };
}

/**
 * Batching: one demo replica (20 ms per call + 0.2 ms per row, one worker, containerConcurrency 1) behind the
 * same `sluice serve`, as two services in the same run: `plain` (no batcher) and `batched` (maxBatchSize 32).
 * Closed loop at the harness's connections (saturation: throughput, p50, p99) and with one connection (an idle
 * replica: the latency the batcher adds when a batch leaves at once). Rounds interleave the two services.
 */
export const batching: Scenario = {
  name: 'batching',
  title: 'Batching: one replica, batched vs unbatched (closed loop)',
  systems: ['sluice'],
  needs: [],
  async run(ctx) {
    const dir = configFolder({ 'plain.yaml': service('plain', false), 'batched.yaml': service('batched', true) });
    const sluice = await startSluiceProcess(dir, { children: ctx.children });
    const { settings, log } = ctx;
    const results: Record<string, { busy: LoadResult[]; idle: LoadResult[] }> = { plain: { busy: [], idle: [] }, batched: { busy: [], idle: [] } };
    try {
      // Wait for both replicas (minReplicas 1) to answer.
      for (const name of ['plain', 'batched']) {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const r = await fetch(sluice.dataUrl + requestFor(name).path, { method: 'POST', body: requestFor(name).body, headers: requestFor(name).headers }).catch(() => null);
          if (r?.status === 200) break;
          if (Date.now() > deadline) throw new Error(`${name} did not become ready`);
          await new Promise((res) => setTimeout(res, 200));
        }
      }
      for (let round = 0; round < settings.rounds; round++) {
        for (const name of ['plain', 'batched']) {
          log(`round ${round + 1}: ${name}, ${settings.connections} connections`);
          results[name]!.busy.push(await runClosedLoop(sluice.dataUrl, requestFor(name), settings.connections, settings.durationS, settings.client));
          log(`round ${round + 1}: ${name}, 1 connection`);
          results[name]!.idle.push(await runClosedLoop(sluice.dataUrl, requestFor(name), 1, settings.durationS, settings.client));
        }
      }
      const metrics = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
      writeFileSync(`${dir}/metrics.txt`, metrics);
      const rowsSum = Number(/^sluice_batcher_batch_rows_sum\{[^}]*\} (\S+)/m.exec(metrics)?.[1] ?? NaN);
      const rowsCount = Number(/^sluice_batcher_batch_rows_count\{[^}]*\} (\S+)/m.exec(metrics)?.[1] ?? NaN);
      const med = (name: string, kind: 'busy' | 'idle', f: (r: LoadResult) => number): number => median(results[name]![kind].map(f));
      const thr = (n: string): number => med(n, 'busy', (r) => r.throughput);
      const ratio = thr('batched') / thr('plain');
      log('idle pairs: 400 requests to each service, one at a time, alternating');
      const idle = await idlePairs(sluice.dataUrl, 400);
      const idleAdded = idle.addedP50;
      const splice = spliceCost();
      const table = [
        '| service | load | req/s | p50 ms | p99 ms | non-2xx |',
        '|---|---|---:|---:|---:|---:|',
        ...(['plain', 'batched'] as const).flatMap((n) =>
          (['busy', 'idle'] as const).map(
            (k) =>
              `| ${n} | ${k === 'busy' ? `${settings.connections} connections` : '1 connection'} | ${formatNumber(med(n, k, (r) => r.throughput))} | ${formatNumber(med(n, k, (r) => r.latency.p50), 1)} | ${formatNumber(med(n, k, (r) => r.latency.p99), 1)} | ${results[n]![k].reduce((s, r) => s + r.non2xx + r.errors, 0)} |`,
          ),
        ),
      ].join('\n');
      const markdown = [
        `One demo replica: ${PER_CALL_MS} ms per call + ${PER_ROW_MS} ms per row, one worker, containerConcurrency 1; \`batched\` has \`batcher: {maxBatchSize: ${MAX_BATCH}, maxLatency: ${MAX_LATENCY_MS}}\`, \`plain\` none; one-row v1 requests. ${settings.rounds} rounds × ${settings.durationS} s per load, services interleaved; medians over rounds.`,
        table,
        `Mean rows per batch sent (whole run, both loads): ${formatNumber(rowsSum / rowsCount, 1)}.`,
        verdict('throughput batched ÷ unbatched at saturation (goal ≥ 5×)', `${formatNumber(ratio, 2)}×`, ratio >= 5),
        `Idle replica, finely: 400 pairs of requests sent one at a time, alternating plain and batched: p50 ${formatNumber(idle.plainP50, 2)} ms plain, ${formatNumber(idle.batchedP50, 2)} ms batched.`,
        verdict('p50 of the pairwise difference batched − plain (idle replica; goal ≤ 1 ms)', `${formatNumber(idleAdded, 2)} ms`, idleAdded <= 1),
        `Merging and splitting a ${formatNumber(splice.mb, 1)} MB v1 batch (two callers): spliced ${formatNumber(splice.splicedMsPerMb, 1)} ms/MB, parsed and printed again ${formatNumber(splice.parsedMsPerMb, 1)} ms/MB.`,
      ].join('\n\n');
      const svg = barChart({
        title: 'One replica, 20 ms/call + 0.2 ms/row: throughput',
        yLabel: 'requests per second',
        categories: [`${settings.connections} connections`, '1 connection'],
        series: ['plain', 'batched'].map((n) => ({ name: n, values: [thr(n), med(n, 'idle', (r) => r.throughput)] })),
      });
      return { markdown, charts: [{ name: 'throughput', svg }] };
    } finally {
      await sluice.stop();
    }
  },
};
