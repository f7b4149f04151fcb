import { parseArgs } from 'node:util';
import type { ClosedLoopClient } from './closed-loop.js';
import type { OpenLoopClient } from './fixed-rate.js';

/** Everything a run can be told on the command line; defaults are the full (quiet-machine) run. */
export interface Settings {
  scenarios: string[];
  /** measured rounds per system; systems are interleaved round by round */
  rounds: number;
  /** seconds per measured run */
  durationS: number;
  /** seconds of closed-loop warm-up per system and request shape before round 1 */
  warmupS: number;
  /** closed-loop connections */
  connections: number;
  /** open-loop rate in requests/s; undefined = `loads` of the reference system's measured capacity */
  rate: number | undefined;
  /**
   * The latency scenario's loads as fractions of the reference system's probed capacity, each measured in turn
   * (default [0.5]); with more than one the report adds a table of added p99 by load. Not with `rate`.
   */
  loads: number[];
  /** open-loop connection cap of the generator */
  openLoopConnections: number;
  methods: Array<'GET' | 'POST'>;
  /** only these systems (all of the scenario's when undefined) */
  systems: string[] | undefined;
  /** aborted requests per wave in the client-abort check */
  aborts: number;
  /** cold-start: concurrent requests in the burst at a revision at zero */
  burst: number;
  /** cold-start: the burst revision's maxReplicas */
  maxReplicas: number;
  /** many-replicas: InferenceServices created */
  services: number;
  resultsDir: string | undefined;
  /** the closed-loop load generator */
  client: ClosedLoopClient;
  /** the fixed-rate (open-loop) generator of the latency scenario */
  openClient: OpenLoopClient;
  /**
   * Systems under test on CPU 1, everything else (this harness, its generators, the upstreams) on CPU 0, so a
   * system's latency is not its wait for a core the generator holds. Saturation and latency only.
   */
  pin: boolean;
  /**
   * The upstream pair's program when --upstream names one: `node` (upstreams/json-responder.ts, Node's HTTP
   * server) or `c` (upstreams/responder.c, built with gcc: the same answer for a fraction of the CPU, no delay or
   * reset knobs). Undefined: each scenario's own (`c` for NATIVE_UPSTREAM, `node` for the rest).
   */
  upstream: UpstreamKind | undefined;
}

export type UpstreamKind = 'node' | 'c';

/**
 * The scenarios that run over the C upstream unless --upstream says node: those that start their upstreams through
 * `withScenarioSystems` and never use the Node responder's knobs. A Node upstream caps `direct` near 48k req/s on
 * two cores (the C one near 124k) and nginx near 28k, which narrows every proxy's gap to the others; the C one
 * leaves the cores to the systems measured.
 */
export const NATIVE_UPSTREAM = ['saturation', 'scale-out', 'connection-churn', 'latency', 'ingress-limits'];

/** The upstream a scenario runs over when --upstream is not given: `c` for NATIVE_UPSTREAM, `node` for the rest. */
export function defaultUpstream(scenario: string): UpstreamKind {
  return NATIVE_UPSTREAM.includes(scenario) ? 'c' : 'node';
}

/** The scenarios --pin applies to: those whose systems are all started by `withScenarioSystems`, one process each. */
export const PINNABLE = ['saturation', 'connection-churn', 'latency', 'ingress-limits'];

export const USAGE = `usage: node dist/load-tests/run.js <scenario…|all> [options]
  --rounds N            measured rounds, systems interleaved (default 5)
  --duration S          seconds per run (default 10)
  --warmup S            warm-up seconds per system (default 2)
  --connections N       closed-loop connections (default 64)
  --rate N              open-loop requests/s (default: 50 % of the reference's measured capacity)
  --loads 0.3,0.5       latency: these fractions of the reference's probed capacity, one after another, and a
                        table of added p99 by load (default 0.5; not with --rate)
  --methods GET,POST    request shapes (default GET,POST)
  --systems a,b         restrict to these systems
  --aborts N            aborted requests per wave in the client-abort check (default 1000)
  --burst N             cold-start: concurrent requests sent at the revision at zero (default 1000)
  --max-replicas N      cold-start: maxReplicas of that revision (default 1); cold-start uses --rounds, not --duration
  --services N          many-replicas: InferenceServices created through the admin API (default 2000)
  --results DIR         where reports go (default load-tests/results)
  --client wrk|autocannon  closed-loop generator (default wrk: C, one thread; autocannon is Node and takes a core)
  --open-client c|undici   latency scenario's fixed-rate generator (default c: harness/fixed-rate.c, built with gcc;
                        undici is the Node generator, 1 ms tick, and shares the cores)
  --pin                 saturation, connection-churn, latency and ingress-limits only: each system under test
                        on CPU 1, the harness, generators and upstreams on CPU 0 (taskset; needs 2 CPUs).
                        Without it every process shares every core
  --upstream node|c     the two upstreams' program: c (upstreams/responder.c, built with gcc: the same answer for a
                        fraction of the machine) is the default of saturation, scale-out, connection-churn, latency
                        and ingress-limits, and --upstream c is refused elsewhere (the others use the Node responder's
                        ?delay_ms and ?reset knobs); node (upstreams/json-responder.ts) for every scenario
  quick development run: --rounds 3 --duration 5`;

export function parseSettings(argv: readonly string[]): Settings {
  const { positionals, values } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '64' },
      rate: { type: 'string' },
      loads: { type: 'string' },
      'open-connections': { type: 'string', default: '256' },
      methods: { type: 'string', default: 'GET,POST' },
      systems: { type: 'string' },
      aborts: { type: 'string', default: '1000' },
      burst: { type: 'string', default: '1000' },
      'max-replicas': { type: 'string', default: '1' },
      services: { type: 'string', default: '2000' },
      results: { type: 'string' },
      client: { type: 'string', default: 'wrk' },
      'open-client': { type: 'string', default: 'c' },
      pin: { type: 'boolean', default: false },
      upstream: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help || positionals.length === 0) throw new Error(USAGE);
  const positive = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!(n > 0)) throw new Error(`--${name} must be a positive number, got ${raw}\n${USAGE}`);
    return n;
  };
  const whole = (name: string, raw: string): number => {
    const n = positive(name, raw);
    if (!Number.isInteger(n)) throw new Error(`--${name} must be a whole number, got ${raw}\n${USAGE}`);
    return n;
  };
  const methods = values.methods.split(',').map((m) => m.trim().toUpperCase());
  for (const m of methods) if (m !== 'GET' && m !== 'POST') throw new Error(`--methods: unknown ${m}`);
  if (values.client !== 'wrk' && values.client !== 'autocannon') {
    throw new Error(`--client must be wrk or autocannon, got ${values.client}\n${USAGE}`);
  }
  const openClient = values['open-client'];
  if (openClient !== 'c' && openClient !== 'undici') {
    throw new Error(`--open-client must be c or undici, got ${openClient}\n${USAGE}`);
  }
  if (values.rate !== undefined && values.loads !== undefined) {
    throw new Error(`--rate and --loads both set the latency scenario's rate: give one\n${USAGE}`);
  }
  const loads = (values.loads ?? '0.5').split(',').map((raw) => {
    const n = Number(raw.trim());
    if (!(n > 0 && n <= 1)) throw new Error(`--loads takes fractions of capacity above 0 and at most 1, got ${raw}\n${USAGE}`);
    return n;
  });
  // Lowest first (and each once): the report's sections and the sweep table's columns go from light to heavy.
  const sortedLoads = [...new Set(loads)].sort((a, b) => a - b);
  // An option that only some scenarios can honour is refused, naming the others, when any other is asked for.
  const onlyFor = (option: string, scenarios: readonly string[]): void => {
    const others = positionals.filter((n) => !scenarios.includes(n));
    if (others.length > 0) throw new Error(`${option} applies to ${scenarios.join(', ')} only, not ${others.join(', ')}\n${USAGE}`);
  };
  if (values.pin) onlyFor('--pin', PINNABLE);
  const upstream = values.upstream;
  if (upstream !== undefined && upstream !== 'node' && upstream !== 'c') throw new Error(`--upstream must be node or c, got ${upstream}\n${USAGE}`);
  if (upstream === 'c') onlyFor('--upstream c', NATIVE_UPSTREAM);
  return {
    scenarios: positionals,
    rounds: positive('rounds', values.rounds),
    durationS: positive('duration', values.duration),
    warmupS: Number(values.warmup),
    connections: positive('connections', values.connections),
    rate: values.rate === undefined ? undefined : positive('rate', values.rate),
    loads: sortedLoads,
    openLoopConnections: positive('open-connections', values['open-connections']),
    methods: methods as Array<'GET' | 'POST'>,
    systems: values.systems?.split(',').map((s) => s.trim()),
    aborts: positive('aborts', values.aborts),
    burst: whole('burst', values.burst),
    maxReplicas: whole('max-replicas', values['max-replicas']),
    services: whole('services', values.services),
    resultsDir: values.results,
    client: values.client,
    openClient,
    pin: values.pin,
    upstream,
  };
}
