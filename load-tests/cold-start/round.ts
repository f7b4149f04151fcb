/**
 * One round of the cold-start burst: a fresh `sluice serve` with the burst revision at zero, N concurrent POSTs
 * (sampling /metrics meanwhile), then the same burst warm and 21 single requests, then the breakdown of where
 * the wake-up time went, from Sluice's log. Sluice is stopped whatever happens.
 */
import { request } from 'undici';
import { inferBody } from '../../test/support/data-plane.js';
import type { ChildRegistry } from '../harness/child-process.js';
import { percentileOfSorted } from '../harness/stats.js';
import { startMetricSampler, type MetricSample } from '../support/metrics-sampler.js';
import { startSluiceProcess } from '../support/sluice-process.js';
import { burstAgent, checkBurst, sendBurst, type Burst, type BurstCheck } from './burst.js';
import { BURST_PATH, BURST_REVISION, burstConfigFolder, type BurstServiceShape } from './service.js';
import { coldStartTimeline, type ColdStartTimeline } from './timeline.js';

export interface ColdStartOptions extends BurstServiceShape {
  requests: number;
  bodyBytes: number;
  /** /metrics sampling period during the cold burst */
  sampleEveryMs: number;
  children?: ChildRegistry;
}

export const HELD = 'sluice_activator_held_requests';
export const READY = 'sluice_ready_replicas';
export const DESIRED = 'sluice_desired_replicas';
export const COMPLETED = 'completed';

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ColdStartRound {
  cold: BurstCheck;
  warm: BurstCheck;
  /** predictions the replicas counted (their /demo/stats), against answers the client got */
  replicaPredictions: number;
  clientAnswers: number;
  timeline: ColdStartTimeline;
  /** wall-clock ms the cold burst started, and its first answer arrived */
  burstAt: number;
  firstAnswerAt: number;
  coldLatency: LatencySummary;
  warmLatency: LatencySummary;
  warmSingleP50: number;
  samples: MetricSample[];
  rssMiB: number;
}

/** The pieces of the added delay (see scenarios/cold-start.ts for the definition). */
export interface Breakdown {
  /** burst sent → first request held (the client's connection ramp) */
  rampMs: number;
  /** first request held → replica spawned: Sluice's wake-up path (poke, scale, port, spawn) */
  wakeMs: number;
  /** replica spawned → its own "ready" log (the replica's start-up, excluded from the added delay) */
  startupMs: number;
  /** replica's "ready" → announced by the backend (readiness probe) */
  readyToAnnouncedMs: number;
  /** replica's "ready" → first answer at the client */
  readyToFirstMs: number;
}

export function breakdown(r: ColdStartRound): Breakdown {
  const t = r.timeline;
  return {
    rampMs: t.heldAt - r.burstAt,
    wakeMs: t.spawnAt - t.heldAt,
    startupMs: t.replicaReadyAt - t.spawnAt,
    readyToAnnouncedMs: t.announcedAt - t.replicaReadyAt,
    readyToFirstMs: r.firstAnswerAt - t.replicaReadyAt,
  };
}

/** Added delay beyond the replica's own start-up, given the direct baseline (ready → first answer, no Sluice). */
export function addedDelay(b: Breakdown, directReadyToFirstMs: number): number {
  return b.wakeMs + b.readyToFirstMs - directReadyToFirstMs;
}

function summarise(ms: number[]): LatencySummary {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    p50: percentileOfSorted(sorted, 0.5),
    p90: percentileOfSorted(sorted, 0.9),
    p99: percentileOfSorted(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

async function predictions(urls: readonly string[]): Promise<number> {
  let total = 0;
  for (const url of urls) {
    const r = await request(`${url}/demo/stats`);
    total += ((await r.body.json()) as { predictions: number }).predictions;
  }
  return total;
}

export async function runColdStartRound(o: ColdStartOptions): Promise<ColdStartRound> {
  const dir = burstConfigFolder(o);
  const sluice = await startSluiceProcess(dir, o.children ? { children: o.children } : {});
  const agent = burstAgent(o.requests);
  try {
    let completed = 0;
    const origin = Date.now();
    const sampler = startMetricSampler({
      metricsUrl: sluice.metricsUrl,
      names: [HELD, READY, DESIRED],
      revision: BURST_REVISION,
      everyMs: o.sampleEveryMs,
      origin,
      client: () => ({ [COMPLETED]: completed }),
    });
    let samples: MetricSample[] = [];
    let cold: Burst;
    try {
      cold = await sendBurst(sluice.dataUrl, o.requests, o.bodyBytes, 'cold', agent, () => completed++);
    } finally {
      samples = await sampler.stop();
    }
    const warm = await sendBurst(sluice.dataUrl, o.requests, o.bodyBytes, 'warm', agent);
    const single: number[] = [];
    let singleOk = 0;
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      const r = await request(`${sluice.dataUrl}${BURST_PATH}`, { method: 'POST', dispatcher: agent, body: inferBody(`single-${i}`, o.bodyBytes) });
      await r.body.dump();
      single.push(performance.now() - t);
      if (r.statusCode === 200) singleOk++;
    }
    const coldCheck = checkBurst(cold.answers);
    const warmCheck = checkBurst(warm.answers);
    const timeline = coldStartTimeline(sluice.logs, BURST_REVISION);
    const shift = (origin - cold.t0) / 1000;
    return {
      cold: coldCheck,
      warm: warmCheck,
      replicaPredictions: await predictions(timeline.replicaUrls),
      clientAnswers: coldCheck.ok + warmCheck.ok + singleOk,
      timeline,
      burstAt: cold.t0,
      firstAnswerAt: Math.min(...cold.answers.filter((a) => a.status === 200).map((a) => a.doneAt)),
      coldLatency: summarise(cold.answers.map((a) => a.ms)),
      warmLatency: summarise(warm.answers.map((a) => a.ms)),
      warmSingleP50: summarise(single).p50,
      // t = 0 is the moment the cold burst was sent.
      samples: samples.map((s) => ({ ...s, t: s.t + shift })),
      rssMiB: sluice.rss() / 1024 / 1024,
    };
  } finally {
    await agent.close();
    await sluice.stop();
  }
}
