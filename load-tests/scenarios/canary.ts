import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdminClient } from '../../cli/admin-client.js';
import { freePort } from '../harness/child-process.js';
import { REQUESTS, type RequestShape } from '../harness/load-result.js';
import { runOpenLoopPhases, type ArrivalOutcome } from '../harness/open-loop.js';
import { latencyBetween, statusTotals, tallyPerSecond, type StatusTotals } from '../harness/outcome-tally.js';
import { startSampler } from '../harness/sampler.js';
import { formatNumber, median, medianOrNull } from '../harness/stats.js';
import { verdict } from '../report/tables.js';
import { stackedLineChart } from '../report/svg.js';
import { startSluiceServer } from '../systems/sluice.js';
import type { RunningSystem } from '../systems/system.js';
import { startUpstreamPair } from '../upstreams/upstream-pair.js';
import type { Scenario, ScenarioContext, ScenarioOutput } from './scenario.js';
import { shareBetween, sharePerSecond, splitErrorPerSecond, staleTrafficEndsAfter, type CounterSample } from './split-series.js';
import { CAPACITY_PROBES, probeCapacity, warmUp } from './measure.js';

const SAMPLE_MS = 100;
const CANARY_TARGET = 0.1;
/** tolerances of the ✓ marks (the picker is a smooth weighted round-robin, exact over every 100 picks) */
const SPLIT_TOLERANCE_PP = 1;
const SWITCHED_TOLERANCE = 0.001;

type Op = 'promote' | 'rollback';

interface AdminCall {
  op: Op;
  /** time of the upstream-counter sample taken right before the call was sent (the previous phase ends there) */
  sampledBefore: number;
  sent: number;
  returned: number;
  /** time of the upstream-counter sample taken right after the call returned */
  sampledAt: number;
  /** the traffic the controller reports after the call, or the call's error */
  outcome: string;
  ok: boolean;
}

interface CanaryRound {
  rate: number;
  phase1Share: number;
  phase1ErrorPp: number;
  phase1MaxSecondErrorPp: number;
  promotedShare: number;
  rolledBackShare: number;
  promoteSettleMs: number | null;
  rollbackSettleMs: number | null;
  calls: AdminCall[];
  totals: StatusTotals;
  latency: Array<{ p50: number; p99: number }>;
  perSecond: Array<{ second: number; share: number; upstreamRps: number; ok: number; failed: number }>;
  markers: Array<{ x: number; label: string }>;
  samplerFailures: number;
}

/**
 * Canary 90/10 under load: the real gateway (sluice-server over the two JSON responders, revision 1 = primary,
 * revision 2 = canary at 10 %), an open-loop load at 50 % of its probed capacity for three phases of
 * `--duration`: 90/10, then `promote` (the canary takes 100 %), then `rollback` (back to the previous rolled-out
 * revision, 100 % primary) — KServe's canary walkthrough, through the admin API the `sluice` CLI uses.
 */
export const canary: Scenario = {
  name: 'canary',
  title: 'Canary 90/10 under load: split error, 5xx = 0 during promote and rollback',
  systems: ['sluice'],
  needs: ['sluice'],
  run: async (ctx) => {
    const method = ctx.settings.methods.includes('POST') ? 'POST' : (ctx.settings.methods[0] ?? 'POST');
    const request = REQUESTS[method];
    let rate = ctx.settings.rate;
    let why = `${rate ?? 0} req/s (set with --rate)`;
    const rounds: CanaryRound[] = [];
    for (let r = 0; r < ctx.settings.rounds; r++) {
      const round = await canaryRound(ctx, request, rate, (capacity, chosen) => {
        why = `${chosen} req/s, 50 % of sluice's probed capacity (${formatNumber(capacity)} req/s, closed loop, ${ctx.settings.connections} connections, round 1, the median of ${CAPACITY_PROBES} probes after a warm-up)`;
        rate = chosen;
      });
      rounds.push(round);
      ctx.log(
        `canary round ${r + 1}: phase-1 share ${(round.phase1Share * 100).toFixed(2)} %, promoted ${(round.promotedShare * 100).toFixed(2)} %, rolled back ${(round.rolledBackShare * 100).toFixed(2)} %, non-2xx ${round.totals.non2xx}, 5xx ${round.totals.status5xx}`,
      );
    }
    return report(ctx, rounds, request, why);
  },
};

async function canaryRound(
  ctx: ScenarioContext,
  request: RequestShape,
  fixedRate: number | undefined,
  probed: (capacity: number, rate: number) => void,
): Promise<CanaryRound> {
  const { settings } = ctx;
  const upstreams = await startUpstreamPair(ctx.children);
  let sluice: RunningSystem | undefined;
  try {
    const adminPort = await freePort();
    const adminToken = randomBytes(24).toString('base64url');
    sluice = await startSluiceServer(ctx.children, upstreams, 30_000, { port: adminPort, token: adminToken });
    const admin = new AdminClient(`http://127.0.0.1:${adminPort}`, { token: adminToken });
    let rate = fixedRate;
    const running = sluice;
    const system = { definition: { name: 'sluice', describe: "the canary scenario's Sluice", splits: true, start: async () => running }, running };
    if (rate === undefined) {
      const capacity = (await probeCapacity([system], request, settings)).get(system.definition.name)!;
      rate = Math.max(100, Math.round(capacity / 2 / 50) * 50);
      probed(capacity, rate);
      ctx.log(`canary: sluice probed at ${capacity.toFixed(0)} req/s; open loop at ${rate} req/s`);
    } else {
      await warmUp([system], request, settings);
    }
    const phaseMs = settings.durationS * 1000;
    const discardMs = 1000;
    const sampler = startSampler<CounterSample>(SAMPLE_MS, async () => {
      const [p, c] = await upstreams.stats();
      return { t: performance.now(), primary: p.requests, canary: c.requests };
    });
    const outcomes: ArrivalOutcome[] = [];
    let origin = 0;
    let calls: Promise<AdminCall[]> = Promise.resolve([]);
    const call = async (op: Op, at: number): Promise<AdminCall> => {
      await sleep(Math.max(0, at - performance.now()));
      const before = await sampler.takeNow();
      const sent = performance.now();
      const sampledBefore = before?.t ?? sent;
      try {
        const obj = await admin.traffic('default', 'bench', { op });
        const returned = performance.now();
        const sample = await sampler.takeNow();
        return { op, sampledBefore, sent, returned, sampledAt: sample?.t ?? returned, outcome: trafficSummary(obj), ok: true };
      } catch (err) {
        const returned = performance.now();
        return { op, sampledBefore, sent, returned, sampledAt: returned, outcome: `failed: ${(err as Error).message}`, ok: false };
      }
    };
    try {
      await runOpenLoopPhases(sluice.url, request, [{ rate, durationS: (discardMs + 3 * phaseMs) / 1000 }], settings.openLoopConnections, {
        discardS: discardMs / 1000,
        onStart: (start) => {
          origin = start + discardMs;
          // promote after phase 1, then roll back after phase 2 (sequential: the second waits for the first)
          calls = (async () => [await call('promote', origin + phaseMs), await call('rollback', origin + 2 * phaseMs)])();
        },
        onOutcome: (o) => outcomes.push(o),
      });
    } finally {
      await sampler.stop();
    }
    const [promote, rollback] = (await calls) as [AdminCall, AdminCall];
    const end = origin + 3 * phaseMs;
    const samples = sampler.samples;
    // each phase's share runs between exact samples: from the one right after a call returned to the one right
    // before the next call (interpolating across a switch would mix the two splits)
    const phase1 = shareBetween(samples, origin, promote.sampledBefore);
    const phase1Seconds = sharePerSecond(samples, origin, Math.floor((promote.sampledBefore - origin) / 1000));
    const seconds = Math.ceil(3 * phaseMs / 1000);
    const shares = sharePerSecond(samples, origin, seconds);
    const client = tallyPerSecond(outcomes, origin, seconds);
    return {
      rate,
      phase1Share: phase1.share,
      phase1ErrorPp: Math.abs(phase1.share - CANARY_TARGET) * 100,
      phase1MaxSecondErrorPp: splitErrorPerSecond(phase1Seconds, CANARY_TARGET).max,
      promotedShare: shareBetween(samples, promote.sampledAt, rollback.sampledBefore).share,
      rolledBackShare: shareBetween(samples, rollback.sampledAt, end).share,
      promoteSettleMs: staleTrafficEndsAfter(samples, promote.returned, rollback.sampledBefore, 'primary'),
      rollbackSettleMs: staleTrafficEndsAfter(samples, rollback.returned, end, 'canary'),
      calls: [promote, rollback],
      totals: statusTotals(outcomes),
      latency: [
        latencyBetween(outcomes, origin, promote.sent),
        latencyBetween(outcomes, promote.sent, rollback.sent),
        latencyBetween(outcomes, rollback.sent, end),
      ],
      perSecond: shares.map((s, i) => ({
        second: s.second,
        share: s.share,
        upstreamRps: s.requests,
        ok: client[i]?.ok ?? 0,
        failed: (client[i]?.non2xx ?? 0) + (client[i]?.errors ?? 0),
      })),
      markers: [
        { x: (promote.returned - origin) / 1000, label: 'promote' },
        { x: (rollback.returned - origin) / 1000, label: 'rollback' },
      ],
      samplerFailures: sampler.failures(),
    };
  } finally {
    await sluice?.stop();
    await upstreams.stop();
  }
}

function trafficSummary(obj: Record<string, unknown>): string {
  const status = obj.status as { components?: { predictor?: { traffic?: Array<Record<string, unknown>> } } } | undefined;
  const traffic = status?.components?.predictor?.traffic ?? [];
  return traffic.map((t) => `${String(t.revisionName)} ${String(t.percent)} %`).join(', ') || 'no traffic';
}

const pct = (v: number, digits = 2): string => (Number.isFinite(v) ? `${(v * 100).toFixed(digits)} %` : '–');
const ms = (v: number | null): string => (v === null ? 'not reached' : v === 0 ? '0 ms' : `≤ ${formatNumber(v)} ms`);

function report(ctx: ScenarioContext, rounds: CanaryRound[], request: RequestShape, why: string): ScenarioOutput {
  const s = ctx.settings;
  const m = (f: (r: CanaryRound) => number): number => median(rounds.map(f));
  const sum = (f: (r: CanaryRound) => number): number => rounds.reduce((a, r) => a + f(r), 0);
  const fiveXx = sum((r) => r.totals.status5xx);
  const non2xx = sum((r) => r.totals.non2xx);
  const errors = sum((r) => r.totals.errors);
  const failedCalls = rounds.flatMap((r) => r.calls.filter((c) => !c.ok).map((c) => `${c.op} ${c.outcome}`));
  const statuses = new Map<number, number>();
  for (const r of rounds) for (const [code, n] of r.totals.byStatus) statuses.set(code, (statuses.get(code) ?? 0) + n);
  const phase1Err = m((r) => r.phase1ErrorPp);
  const promoted = Math.min(...rounds.map((r) => r.promotedShare));
  const rolledBack = Math.max(...rounds.map((r) => r.rolledBackShare));
  const promoteSettle = medianOrNull(rounds.map((r) => r.promoteSettleMs));
  const rollbackSettle = medianOrNull(rounds.map((r) => r.rollbackSettleMs));
  const verdicts = [
    verdict('**5xx**', `${fiveXx}${fiveXx > 0 ? ' — FAILURE: the gateway answered 5xx while traffic moved' : ''}`, fiveXx === 0),
    verdict('non-2xx (any status outside 2xx)', `${non2xx}${statuses.size > 0 ? ` (${[...statuses].map(([c, n]) => `${c}×${n}`).join(', ')})` : ''}`, non2xx === 0),
    verdict('transport errors (no answer)', String(errors), errors === 0),
    verdict('admin calls', failedCalls.length === 0 ? `all ${rounds.length * 2} succeeded` : failedCalls.join('; '), failedCalls.length === 0),
    verdict(`phase-1 split error |share − 10 %| (median of rounds; goal ≤ ${SPLIT_TOLERANCE_PP} pp)`, `${formatNumber(phase1Err, 3)} pp`, phase1Err <= SPLIT_TOLERANCE_PP),
    verdict('canary share after promote (worst round; goal 100 %)', pct(promoted, 3), promoted >= 1 - SWITCHED_TOLERANCE),
    verdict('canary share after rollback (worst round; goal 0 %)', pct(rolledBack, 3), rolledBack <= SWITCHED_TOLERANCE),
    verdict('old target still receiving after promote returned (median)', ms(promoteSettle), promoteSettle !== null),
    verdict('old target still receiving after rollback returned (median)', ms(rollbackSettle), rollbackSettle !== null),
  ];
  const roundRows = rounds.map((r, i) => {
    const [p, b] = r.calls as [AdminCall, AdminCall];
    return `| ${i + 1} | ${formatNumber(r.rate)} | ${pct(r.phase1Share)} | ${formatNumber(r.phase1ErrorPp, 3)} | ${formatNumber(r.phase1MaxSecondErrorPp, 2)} | ${pct(r.promotedShare, 3)} | ${ms(r.promoteSettleMs)} | ${formatNumber(p.returned - p.sent, 1)} | ${pct(r.rolledBackShare, 3)} | ${ms(r.rollbackSettleMs)} | ${formatNumber(b.returned - b.sent, 1)} | ${r.totals.non2xx} | ${r.totals.status5xx} | ${r.totals.errors} |`;
  });
  const medianRow = `| **median** | ${formatNumber(m((r) => r.rate))} | ${pct(m((r) => r.phase1Share))} | ${formatNumber(phase1Err, 3)} | ${formatNumber(m((r) => r.phase1MaxSecondErrorPp), 2)} | ${pct(m((r) => r.promotedShare), 3)} | ${ms(promoteSettle)} | ${formatNumber(m((r) => (r.calls[0] as AdminCall).returned - (r.calls[0] as AdminCall).sent), 1)} | ${pct(m((r) => r.rolledBackShare), 3)} | ${ms(rollbackSettle)} | ${formatNumber(m((r) => (r.calls[1] as AdminCall).returned - (r.calls[1] as AdminCall).sent), 1)} | ${non2xx} (sum) | ${fiveXx} (sum) | ${errors} (sum) |`;
  const phaseNames = ['1: 90/10', '2: promoted (canary 100 %)', '3: rolled back (primary 100 %)'];
  const latencyRows = phaseNames.map(
    (name, k) => `| ${name} | ${formatNumber(m((r) => r.latency[k]?.p50 ?? Number.NaN), 2)} | ${formatNumber(m((r) => r.latency[k]?.p99 ?? Number.NaN), 2)} |`,
  );
  const last = rounds[rounds.length - 1] as CanaryRound;
  const lastCalls = last.calls.map((c) => `\`${c.op}\` → ${c.outcome}`).join('; ');
  const markdown = [
    `**System**: sluice (\`systems/sluice-server.js\`, embedded, one process) over the two JSON responders: revision 1 (\`bench-predictor-00001\`) is the primary upstream, revision 2 (\`-00002\`, \`canaryTrafficPercent: 10\`) the canary. Promote and rollback are \`POST …/inferenceservices/bench/traffic {"op": "promote" | "rollback"}\` on its admin API through \`cli/admin-client.ts\` — the same call and controller path as \`sluice promote\` / \`sluice rollback\`.`,
    `**Load**: open loop, ${request.method} ${request.path}, at ${why}; 1 s unrecorded, then three phases of ${s.durationS} s: 90/10 → \`promote\` → \`rollback\` (KServe's canary walkthrough: the rollback returns to the previous rolled-out revision, so the primary gets 100 %). ${s.rounds} round(s), each with a fresh sluice and fresh upstreams.`,
    `**Measured**: the upstreams' \`/__stats\` counters every ${SAMPLE_MS} ms (and once right after each admin call returns) give the canary's share per second and per phase; the client counts every status. "Old target still receiving" is the time from the admin call returning to the first counter sample after the old target's last request — an upper bound, exact to ${SAMPLE_MS} ms; "0 ms" means it got nothing once the call had returned (the new route was in place before the answer). Per-second shares interpolate the counters at second boundaries, so a second carries an error of a request or two.`,
    '### Verdict',
    verdicts.map((v) => `- ${v}`).join('\n'),
    '### Per round',
    [
      '| round | rate req/s | phase-1 share | split error pp | worst second pp | share after promote | old target receiving for | promote call ms | share after rollback | old target receiving for | rollback call ms | non-2xx | 5xx | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
      ...roundRows,
      medianRow,
    ].join('\n'),
    '### Latency per phase (ms from the intended send time, medians over rounds)',
    ['| phase | p50 | p99 |', '|---|---:|---:|', ...latencyRows].join('\n'),
    `Controller status after each call in the last round: ${lastCalls}.${rounds.some((r) => r.samplerFailures > 0) ? ` Counter samples that failed: ${sum((r) => r.samplerFailures)}.` : ''}`,
  ].join('\n\n');
  const [promoteAt, rollbackAt] = last.markers.map((mk) => mk.x) as [number, number];
  const endAt = last.perSecond.length;
  const target: Array<readonly [number, number]> = [[0, 10], [promoteAt, 10], [promoteAt, 100], [rollbackAt, 100], [rollbackAt, 0], [endAt, 0]];
  // each second's figure is drawn at the middle of its second
  const mid = (p: { second: number }): number => p.second - 0.5;
  const chart = stackedLineChart({
    title: `Canary share and throughput per second (last round, ${formatNumber(last.rate)} req/s offered)`,
    xLabel: 'seconds since the recorded start',
    markers: last.markers.map((mk) => ({ x: mk.x, label: mk.label })),
    panels: [
      {
        yLabel: 'canary share %',
        yMax: 100,
        series: [
          { name: 'canary share', points: last.perSecond.map((p) => [mid(p), p.share * 100] as const) },
          { name: 'target share', points: target },
        ],
      },
      {
        yLabel: 'requests/s',
        series: [
          { name: 'upstreams received', points: last.perSecond.map((p) => [mid(p), p.upstreamRps] as const) },
          { name: 'client 2xx', points: last.perSecond.map((p) => [mid(p), p.ok] as const) },
          { name: 'client failed', points: last.perSecond.map((p) => [mid(p), p.failed] as const) },
        ],
      },
    ],
  });
  return { markdown, charts: [{ name: 'share', svg: chart }] };
}
