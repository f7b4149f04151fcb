import { startSystems, type SystemSet } from '../harness/system-set.js';
import { defaultUpstream, type UpstreamKind } from '../harness/settings.js';
import type { StartOptions } from '../systems/system.js';
import { startUpstreamPair, type RunningUpstreams } from '../upstreams/upstream-pair.js';
import type { ScenarioContext, ScenarioOutput } from './scenario.js';

/** How each kind of upstream is named in a report (`--upstream`). */
export const UPSTREAM_DESCRIPTIONS: Record<UpstreamKind, string> = {
  node: '`upstreams/json-responder.ts`, Node\'s HTTP server (`--upstream node`; the default of scenarios that use its knobs)',
  c: '`upstreams/responder.c`, C, one thread, epoll (`--upstream c`, the default here): the same answer for a fraction of the CPU',
};

/**
 * Starts the upstream pair (`--upstream`, else the scenario's default: `defaultUpstream`) and the scenario's systems
 * (filtered by --systems), runs `body`, and tears it all down whatever happens. Systems that cannot run here are
 * named in the report.
 */
export async function withScenarioSystems(
  ctx: ScenarioContext,
  names: readonly string[],
  options: Omit<StartOptions, 'children'>,
  body: (set: SystemSet, upstreams: RunningUpstreams, splitting: ReadonlySet<string>) => Promise<ScenarioOutput>,
): Promise<ScenarioOutput> {
  const upstreamKind = ctx.settings.upstream ?? defaultUpstream(ctx.scenario);
  const { wanted, notHere } = systemsToStart(names, ctx.settings.systems);
  if (notHere.length > 0) ctx.log(`--systems names ${notHere.join(', ')}, which this scenario does not run (its systems: ${names.join(', ')})`);
  const upstreams = await startUpstreamPair(ctx.children, upstreamKind);
  let set: SystemSet | undefined;
  try {
    // --pin: the harness runs on CPU 0 (run.ts), and so do the upstreams it starts; the systems on CPU 1.
    const children = ctx.settings.pin ? ctx.children.pinnedTo('1') : ctx.children;
    set = await startSystems(wanted, upstreams, { ...options, children }, ctx.log);
    const splitting = new Set(set.started.filter((s) => s.definition.splits).map((s) => s.definition.name));
    const output = await body(set, upstreams, splitting);
    const systemsList = set.started.map((s) => `- **${s.definition.name}**: ${s.definition.describe}`);
    const skipped = [
      ...set.skipped.map((s) => `- ~~${s.name}~~ skipped: ${s.reason}`),
      ...notHere.map((n) => `- ~~${n}~~ not run: named in --systems, but not one of this scenario's systems (${names.join(', ')})`),
    ];
    const upstreamLine = `Upstreams (primary and canary, one process each): ${UPSTREAM_DESCRIPTIONS[upstreamKind]}.`;
    return {
      ...output,
      markdown: ['### Systems', [...systemsList, ...skipped].join('\n'), upstreamLine, output.markdown].join('\n\n'),
    };
  } finally {
    await set?.stop();
    await upstreams.stop();
  }
}

/**
 * Which of a scenario's systems (`names`) a run starts: those `--systems` names (all without it), and `sluice-alt`
 * (another build, systems/sluice.ts) in any scenario that runs `sluice` when --systems names it. `notHere`: the
 * names --systems gave that this scenario does not run, so that the log and the report can say so.
 */
export function systemsToStart(names: readonly string[], requested: readonly string[] | undefined): { wanted: string[]; notHere: string[] } {
  if (requested === undefined) return { wanted: [...names], notHere: [] };
  const wanted = names.filter((n) => requested.includes(n));
  const alt = requested.includes('sluice-alt') && names.includes('sluice');
  if (alt && !wanted.includes('sluice-alt')) wanted.push('sluice-alt');
  const notHere = requested.filter((n) => !names.includes(n) && !(n === 'sluice-alt' && alt));
  return { wanted, notHere };
}
