import { REQUESTS } from '../harness/load-result.js';
import { formatNumber } from '../harness/stats.js';
import { latencyTable, pairedRounds, pairedRoundsLine, saturationTable, summarise } from '../report/tables.js';
import { measureLatency, measureSaturation, probeCapacity, type Measurements } from './measure.js';
import { sluiceLimitRules } from '../systems/sluice.js';
import { withScenarioSystems } from './scenario-systems.js';
import type { Scenario } from './scenario.js';

/** The systems of a run without --systems: the rules one at a time come only when named. */
const DEFAULT_SYSTEMS = ['direct', 'sluice', 'sluice-aa', 'sluice-limits'];

/**
 * What the ingress rules cost, on and off in the same run: `sluice` (defaults: the ingress stages are composed but
 * the service has no policy) against `sluice-limits` (every rule on, none biting), with `direct` as the floor, and
 * `sluice-aa` (a second `sluice` process) as the A/A control: what two identical processes differ by. With
 * --systems, `sluice-limit-<rule>` puts one rule on at a time. Saturated throughput (closed loop), then p50/p99 at
 * half of `sluice`'s probed capacity (open loop). Every Sluice system is compared with `sluice` round by round.
 */
export const ingressLimits: Scenario = {
  name: 'ingress-limits',
  title: 'Ingress rules: cost with every limit on vs off (same run)',
  systems: [...DEFAULT_SYSTEMS, ...sluiceLimitRules.map((s) => s.name)],
  needs: ['sluice'],
  run: (ctx) =>
    withScenarioSystems(ctx, ctx.settings.systems ? ingressLimits.systems : DEFAULT_SYSTEMS, { upstreamTimeoutMs: 30_000 }, async (set, upstreams, splitting) => {
      const parts: string[] = [];
      // The A/A control first, then every rule on, then the rules one at a time.
      const compared = set.started.map((x) => x.definition.name).filter((n) => n.startsWith('sluice-'));
      compared.sort((a, b) => rank(a) - rank(b));
      for (const method of ctx.settings.methods) {
        const request = REQUESTS[method];
        const saturatedRounds = await measureSaturation(set.started, upstreams, request, ctx.settings, ctx.log);
        const saturated = summarise(saturatedRounds);
        parts.push(`### ${method} ${request.path}: saturated (closed loop)\n\n${saturationTable(saturated, splitting)}${paired(saturatedRounds, 'saturated', compared)}`);
        let rate = ctx.settings.rate;
        let why = 'set with --rate';
        if (rate === undefined) {
          const capacity = await probeCapacity(set.started.filter((s) => s.definition.name === 'sluice'), request, ctx.settings);
          const cap = capacity.get('sluice') ?? 2000;
          rate = Math.max(100, Math.round(cap / 2 / 50) * 50);
          why = `50 % of sluice's probed capacity (${formatNumber(cap)} req/s)`;
        }
        const latencyRounds = await measureLatency(set.started, upstreams, request, rate, ctx.settings, ctx.log);
        const latency = summarise(latencyRounds);
        parts.push(`### ${method} ${request.path} at ${rate} req/s (${why})\n\n${latencyTable(latency, splitting)}${paired(latencyRounds, 'open loop', compared)}`);
      }
      return {
        markdown: [
          `Closed loop: ${ctx.settings.connections} connections; open loop at half capacity. ${ctx.settings.durationS} s per run, ${ctx.settings.rounds} rounds interleaved, medians over rounds. Compare the sluice-limits row with the sluice row (same run, same upstreams), and sluice-aa's, a second identical process, for what two processes differ by anyway.`,
          ...parts,
        ].join('\n\n'),
        charts: [],
      };
    }),
};

function rank(name: string): number {
  return name === 'sluice-aa' ? 0 : name === 'sluice-limits' ? 1 : 2;
}

/** Each compared row against the sluice row, round by round, a paragraph each after a table (empty when sluice is missing). */
function paired(rounds: Measurements, what: 'saturated' | 'open loop', compared: readonly string[]): string {
  const lines = compared.flatMap((name) => {
    const p = pairedRounds(rounds, 'sluice', name);
    return p === null ? [] : [pairedRoundsLine(p, 'sluice', name, what)];
  });
  return lines.length ? `\n\n${lines.join('\n\n')}` : '';
}
