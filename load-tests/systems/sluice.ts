import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnService, type ChildRegistry } from '../harness/child-process.js';
import { LIMIT_RULES, type LimitRule } from '../support/limits-on.js';
import { SLUICE_NODE_FLAGS } from '../support/node-flags.js';
import type { RunningSystem, SystemDefinition, UpstreamPair } from './system.js';

const serverScript = fileURLToPath(new URL('./sluice-server.js', import.meta.url));

/**
 * The real gateway: `sluice serve` (embedded mode, one process) with routing, the 90/10 canary split, the
 * activator's dispatch and metrics on, in front of the same two upstreams as every other system
 * (they are the replicas of the InferenceService's two revisions, through the static backend).
 */
export const sluice: SystemDefinition = {
  name: 'sluice',
  describe: 'sluice serve (embedded, one process): path routing, 90/10 canary split, activator dispatch, metrics',
  splits: true,
  unavailable: async () => (existsSync(serverScript) ? undefined : 'sluice is not built (run npm run build)'),
  start: (upstreams, options) => startSluiceServer(options.children, upstreams, options.upstreamTimeoutMs),
};

/** `sluice` started with other server arguments or workers: one system per variant, compared in the same run. */
function sluiceVariant(name: string, describe: string, workers: number, extraArgs: readonly string[] = []): SystemDefinition {
  return {
    name,
    describe,
    splits: true,
    unavailable: sluice.unavailable,
    start: (upstreams, options) => startSluiceServer(options.children, upstreams, options.upstreamTimeoutMs, undefined, workers, extraArgs),
  };
}

/** The same with every ingress rule on and none biting (`--limits on`): what checking them costs. */
export const sluiceLimits = sluiceVariant(
  'sluice-limits',
  'sluice serve with every ingress rule on, none biting: service and per-client rate limits (Redis-free, local buckets), requests in flight per client, CIDR allowlist, body limit, CORS',
  1,
  ['--limits', 'on'],
);

/**
 * `sluice` again, as a second process with the same arguments: the A/A control of a comparison between two
 * Sluice processes (what two identical processes differ by, from where each lands in memory and on the cores).
 */
export const sluiceAa = sluiceVariant('sluice-aa', 'sluice again, a second process with the same arguments: the A/A control for sluice-limits and the single rules', 1);

/** One ingress rule on at a time (`--limits <rule>`): which of them costs what. */
export const sluiceLimitRules: readonly SystemDefinition[] = (Object.keys(LIMIT_RULES) as LimitRule[]).map((rule) =>
  sluiceVariant(`sluice-limit-${rule}`, `sluice serve with only the ${rule} rule on (load-tests/support/limits-on.ts), not biting`, 1, ['--limits', rule]),
);

/** The same with the data port served by node:http's server (`http1Server: node`): what Sluice's own saves. */
export const sluiceNodeHttp = sluiceVariant(
  'sluice-nodehttp',
  'sluice serve with http1Server=node: the data port on node:http\'s server instead of Sluice\'s own connection handler',
  1,
  ['--http1', 'node'],
);

/** The same with `--workers 2`: two data-plane workers sharing the port, the control plane in the primary. */
export const sluiceTwoWorkers = sluiceVariant(
  'sluice-2w',
  'sluice serve --workers 2: the control plane in the primary, two gateway workers sharing the data port (node:cluster) and each replica\'s capacity',
  2,
);

/**
 * Another build of Sluice (`SLUICE_BENCH_ALT_DIST=<its dist/ directory>`, e.g. a copy of dist/ made before a
 * change): the same server script and arguments as `sluice`, so the two builds are measured in one run, rounds
 * interleaved, against the same baselines.
 */
export const sluiceAlt: SystemDefinition = {
  name: 'sluice-alt',
  describe: 'sluice serve as `sluice`, from another build (SLUICE_BENCH_ALT_DIST)',
  splits: true,
  unavailable: async () => {
    const dist = process.env['SLUICE_BENCH_ALT_DIST'];
    if (dist === undefined || dist === '') return 'set SLUICE_BENCH_ALT_DIST to the dist/ directory of the other build';
    return existsSync(altServerScript(dist)) ? undefined : `${altServerScript(dist)} does not exist (build that tree first)`;
  },
  start: (upstreams, options) =>
    startSluiceServer(options.children, upstreams, options.upstreamTimeoutMs, undefined, 1, [], altServerScript(process.env['SLUICE_BENCH_ALT_DIST']!)),
};

function altServerScript(dist: string): string {
  return join(resolve(dist), 'load-tests', 'systems', 'sluice-server.js');
}

/**
 * Starts systems/sluice-server.js (or `script`, another build's) over the pair (90/10 in place); with `admin`, its admin API listens on that port
 * and takes that bearer token.
 */
export async function startSluiceServer(
  children: ChildRegistry,
  upstreams: UpstreamPair,
  upstreamTimeoutMs: number,
  admin?: { port: number; token: string },
  workers = 1,
  extraArgs: readonly string[] = [],
  script = serverScript,
): Promise<RunningSystem> {
  const service = await spawnService(children, {
    command: process.execPath,
    args: [
      ...SLUICE_NODE_FLAGS,
      script,
      '--workers', String(workers),
      '--upstream', upstreams.primary.url,
      '--upstream', upstreams.canary.url,
      '--timeout-ms', String(upstreamTimeoutMs),
      ...(admin === undefined ? [] : ['--admin-port', String(admin.port), '--admin-token', admin.token]),
      ...extraArgs,
    ],
    ready: { kind: 'prints-port' },
    label: 'sluice',
  });
  return { url: `http://127.0.0.1:${service.port}`, pid: service.pid, stop: service.stop };
}
