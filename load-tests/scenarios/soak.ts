import { rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { configFolder, demoService } from '../../test/support/embedded.js';
import { freePort } from '../harness/child-process.js';
import { startAbortLoad } from '../soak/abort-load.js';
import { InspectorGc } from '../soak/inspector-gc.js';
import { ProcessSampler } from '../soak/process-sampler.js';
import { killOldestReplica } from '../soak/replica-killer.js';
import { ReplicaTracker } from '../soak/replica-tracker.js';
import { soakPlan, type SoakPlan } from '../soak/soak-plan.js';
import { soakChart, soakMarkdown } from '../soak/soak-report.js';
import { FDS_AFTER_SLACK, FDS_PER_REPLICA } from '../soak/soak-verdict.js';
import { startSluiceProcess, type LogLine } from '../support/sluice-process.js';
import type { Scenario, ScenarioContext, ScenarioOutput } from './scenario.js';

const SERVICE = 'soak';

/**
 * Long soak: `sluice serve` (local backend, real demo-runtime replica processes) under a steady open-loop
 * load where 10 % of requests are abandoned by the client, while a replica is SIGKILLed every 1.5 × duration.
 * Watches sluice's RSS, descriptors and event-loop delay every second and judges whether they stay flat.
 */
export const soak: Scenario = {
  name: 'soak',
  title: 'Soak: steady load, 10 % client aborts, replica kills (RSS, descriptors, event-loop delay)',
  systems: ['sluice'],
  needs: ['sluice'],
  run: (ctx) => runSoak(ctx, soakPlan(ctx.settings)),
};

async function runSoak(ctx: ScenarioContext, plan: SoakPlan): Promise<ScenarioOutput> {
  const dir = configFolder({
    [`${SERVICE}.yaml`]: demoService(SERVICE, {
      predictor: `    minReplicas: ${plan.minReplicas}\n    maxReplicas: ${plan.maxReplicas}\n    containerConcurrency: ${plan.containerConcurrency}\n`,
      env: {
        SLUICE_DEMO_LATENCY_MS: String(plan.replicaLatencyMs),
        SLUICE_DEMO_LATENCY_JITTER_MS: String(plan.replicaJitterMs),
        SLUICE_DEMO_MAX_CONCURRENCY: String(plan.containerConcurrency),
      },
    }),
  });
  ctx.log(`soak: ${plan.loadS} s at ${plan.rate} req/s, 1 in ${plan.abortEvery} aborted, ${plan.killsAtS.length} replica kills every ${plan.killEveryS} s`);
  const inspectPort = await freePort();
  const sluice = await startSluiceProcess(dir, { nodeArgs: [`--inspect=127.0.0.1:${inspectPort}`], children: ctx.children });
  const alive = (): boolean => sluice.child.exitCode === null && sluice.child.signalCode === null;
  const tracker = new ReplicaTracker();
  let cursor = 0;
  const pump = (): void => {
    for (; cursor < sluice.logs.length; cursor++) tracker.observe(sluice.logs[cursor]!);
  };
  const pumping = setInterval(pump, 100);
  let sampler: ProcessSampler | undefined;
  let gcTimer: NodeJS.Timeout | undefined;
  try {
    sampler = new ProcessSampler(sluice.pid, sluice.metricsUrl, alive, await InspectorGc.connect(inspectPort));
    const readyBy = Date.now() + 60_000;
    while ((pump(), tracker.ready().length) < plan.minReplicas) {
      if (Date.now() > readyBy || !alive()) throw new Error(`soak: ${plan.minReplicas} replicas not ready within 60 s`);
      await sleep(100);
    }
    sampler.start();
    await sleep(plan.idleS * 500);
    sampler.requestGc();
    await sleep(plan.idleS * 500);
    const idle = sampler.samples.slice(-3);
    const baseline = {
      fds: Math.max(...idle.map((s) => s.fds)),
      readyReplicas: idle[idle.length - 1]?.readyReplicas ?? Number.NaN,
    };
    ctx.log(`soak: idle baseline ${baseline.fds} fds, ${baseline.readyReplicas} replicas ready`);

    const origin = Date.now();
    const load = startAbortLoad({
      url: sluice.dataUrl,
      path: `/v1/models/${SERVICE}:predict`,
      rate: plan.rate,
      durationS: plan.loadS,
      abortEvery: plan.abortEvery,
      maxSockets: 64,
      maxOutstanding: plan.maxOutstanding,
      timeoutMs: 30_000,
      origin,
      abortWindowMs: plan.abortWindowMs,
    });
    // full collections at the middle of each tenth of the load: three fall in its second quarter, three in its last
    const gcEveryMs = (plan.loadS * 1000) / plan.gcReadings;
    const gcs = sampler;
    gcTimer = setTimeout(function next() {
      gcs.requestGc();
      if (Date.now() + gcEveryMs < origin + plan.loadS * 1000) gcTimer = setTimeout(next, gcEveryMs);
    }, gcEveryMs / 2);
    const skippedKills: string[] = [];
    for (const atS of plan.killsAtS) {
      await sleep(Math.max(0, origin + atS * 1000 - Date.now()));
      if (!alive()) break;
      pump();
      const outcome = killOldestReplica(tracker, sluice.pid, plan.minReplicas);
      if ('killed' in outcome) ctx.log(`soak: t=${atS} s SIGKILL ${outcome.killed.id} (pid ${outcome.killed.pid})`);
      else {
        skippedKills.push(`t=${atS} s: ${outcome.skipped}`);
        ctx.log(`soak: t=${atS} s kill skipped: ${outcome.skipped}`);
      }
    }
    const client = await load.done;
    const loadEndedAt = Date.now();
    ctx.log(`soak: load done: ${client.ok} × 200, ${client.abortedBeforeHeaders + client.abortedMidBody} aborted, ${client.failures.length} failed`);

    // After the load: the gauges must reach 0 and the descriptors come back near the idle baseline.
    const settled = (): boolean => {
      const s = gcs.samples[gcs.samples.length - 1];
      if (!s || !alive()) return true;
      const allowed = baseline.fds + FDS_PER_REPLICA * Math.max(0, s.readyReplicas - baseline.readyReplicas) + FDS_AFTER_SLACK;
      return s.gatewayInflight === 0 && s.held === 0 && s.replicaInflight === 0 && s.fds <= allowed;
    };
    await sleep(plan.drainMinS * 1000);
    while (!settled() && Date.now() - loadEndedAt < plan.drainMaxS * 1000) await sleep(500);
    sampler.requestGc();
    await sleep(2_100); // the collection, and one more reading after it
    pump();
    const stillAlive = alive();
    await sampler.stop();
    const after = sampler.samples[sampler.samples.length - 1];
    return {
      markdown: soakMarkdown({
        plan,
        origin,
        samples: sampler.samples,
        baseline,
        after,
        client,
        kills: tracker.kills(),
        skippedKills,
        alive: stillAlive,
        exit: stillAlive ? undefined : `code ${sluice.child.exitCode}, signal ${sluice.child.signalCode}`,
        drainS: (Date.now() - loadEndedAt) / 1000,
        warnings: warningsOf(sluice.logs),
      }),
      charts: [{ name: 'resources', svg: soakChart(plan, origin, sampler.samples, client, tracker.kills()) }],
    };
  } finally {
    clearInterval(pumping);
    clearTimeout(gcTimer);
    await sampler?.stop();
    await sluice.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const LEVELS: Record<number, string> = { 40: 'warn', 50: 'error', 60: 'fatal' };

/** Sluice's own lines at warn or above (pino levels), by level and message; replicas' forwarded output is left out. */
function warningsOf(logs: readonly LogLine[]): Array<{ level: string; msg: string; count: number }> {
  const counts = new Map<string, { level: string; msg: string; count: number }>();
  for (const line of logs) {
    const level = typeof line['level'] === 'number' ? line['level'] : 0;
    if (level < 40 || line['stream'] !== undefined) continue;
    const name = LEVELS[level] ?? String(level);
    const key = `${name} ${line.msg}`;
    const entry = counts.get(key) ?? { level: name, msg: line.msg, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  return [...counts.values()].sort((a, b) => b.count - a.count);
}
