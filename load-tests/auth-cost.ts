/**
 * What data-plane auth costs, measured on and off in the same run against one Sluice process: `off` (a service
 * with auth none), `api-key` (a key looked up by hash), `jwt` (one RS256 token, served from the verified-token
 * cache after its first request). Each round runs every variant once, the order rotated by one each round (with
 * a multiple of six rounds, each variant runs equally often in each position):
 * - saturated throughput: wrk, closed loop, 1 thread, `--connections` connections, `--duration` s, after 1 s of
 *   the same load unmeasured;
 * - CPU µs per request of the Sluice process over that run (/proc utime + stime);
 * - p50 at half load: the C fixed-rate generator (harness/fixed-rate.c) at half of `off`'s saturated rate (the median
 *   of three probes before the rounds, one rate for the whole run), `--duration` s.
 * `off + token header` and `off + key header` are the jwt and api-key variants' requests (the same credential
 * header) sent to the open service: the same run with auth off, each variant's base in the goal's comparison.
 * `off again` is `off` once more in each round: an A/A control, whose spread is what the machine's noise does to
 * a comparison. Reports medians over rounds and, round by round, each variant against its base measured in the
 * same round (throughput ratio, CPU difference, p50 difference: their median and range over rounds, less
 * disturbed by drift between rounds than a ratio of medians), in
 * load-tests/results/auth-cost.md. Usage:
 *   npm run build && node dist/load-tests/auth-cost.js [--rounds 3] [--duration 5] [--connections 64] [--pin] [--report <file>]
 * `--pin`: the Sluice process on CPU 1, everything else (this script, wrk, the fixed-rate generator, the upstream,
 * the JWKS issuer) on CPU 0, so that the variants do not take turns at a core with the generator.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { ChildRegistry, onCpus, pinThisProcess, spawnService } from './harness/child-process.js';
import { runFixedRate } from './harness/fixed-rate.js';
import { cpuSeconds } from './harness/process-stats.js';
import { formatSpread, median, percent, signedFixed, spread } from './harness/stats.js';
import { INFERENCE_BODY } from './harness/load-result.js';
import { startBenchIssuer } from './support/bench-issuer.js';
import { runWrk } from './harness/wrk.js';


const USAGE = `usage: node dist/load-tests/auth-cost.js [--rounds N] [--duration S] [--connections N] [--report FILE] [--pin]
  Measures auth on (API key; JWT with its verified-token cache) against the same requests with auth off, round by
  round, and writes load-tests/results/auth-cost.md (replaced whole) or FILE.
  --rounds N       interleaved rounds (default 3)
  --duration S     seconds per measurement (default 5)
  --connections N  wrk connections at saturation (default 64)
  --report FILE    write the report to FILE instead
  --pin            Sluice on CPU 1; the harness, generators, upstream and issuer on CPU 0
`;

/** The command line, strictly: an unknown flag or a bad number prints the usage and exits 2 before anything runs. */
function options(argv: string[]): { rounds: number; durationS: number; connections: number; reportPath?: string; pin: boolean } {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        rounds: { type: 'string' },
        duration: { type: 'string' },
        connections: { type: 'string' },
        report: { type: 'string' },
        pin: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    process.stderr.write(`auth-cost: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const count = (name: 'rounds' | 'duration' | 'connections', def: number): number => {
    const v = parsed[name];
    if (v === undefined) return def;
    const n = Number(v);
    if (!(Number.isInteger(n) && n >= 1)) {
      process.stderr.write(`auth-cost: --${name} must be a whole number of at least 1 (got ${JSON.stringify(v)})\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  return { rounds: count('rounds', 3), durationS: count('duration', 5), connections: count('connections', 64), reportPath: parsed.report, pin: parsed.pin === true };
}

type VariantName = 'off' | 'off again' | 'off + token header' | 'off + key header' | 'api-key' | 'jwt';

interface Variant {
  name: VariantName;
  path: string;
  headers: Record<string, string>;
}

/** One variant's measurements in one round. */
interface Sample {
  rps: number;
  cpuUsPerReq: number;
  p50Half: number;
  non2xx: number;
}

/**
 * The comparisons reported, each made round by round (a variant against its base measured in the same round). The
 * goal's: auth on against the same requests with auth off (the "against the same run with them off").
 */
const PAIRS: ReadonlyArray<{ variant: VariantName; base: VariantName; what: string }> = [
  { variant: 'off again', base: 'off', what: 'the A/A control: its spread is the noise a comparison carries on this machine' },
  { variant: 'jwt', base: 'off + token header', what: 'auth on vs off, the same requests (JWT, verified-token cache)' },
  { variant: 'api-key', base: 'off + key header', what: 'auth on vs off, the same requests (API key)' },
  { variant: 'off + token header', base: 'off', what: 'carrying the ~600-byte token to an open service, which forwards it' },
  { variant: 'off + key header', base: 'off', what: 'carrying the API key to an open service, which forwards it' },
  { variant: 'jwt', base: 'off', what: 'JWT against requests with no credential (the header and the check together)' },
  { variant: 'api-key', base: 'off', what: 'API key against requests with no credential' },
];

async function wrk(url: string, v: Variant, connections: number, durationS: number): Promise<{ rps: number; non2xx: number; requests: number }> {
  const r = await runWrk(url, { method: 'POST', path: v.path, body: INFERENCE_BODY, headers: { 'content-type': 'application/json', ...v.headers } }, connections, durationS);
  return { rps: r.throughput, non2xx: r.non2xx, requests: r.completed };
}

async function main(): Promise<void> {
  const { rounds, durationS, connections, reportPath, pin } = options(process.argv.slice(2));
  if (pin) pinThisProcess('0');
  const children = new ChildRegistry();
  const { issuer, jwksUrl, token, close: closeIssuer } = await startBenchIssuer();
  try {
    const upstream = await spawnService(children, {
      command: process.execPath,
      args: [fileURLToPath(new URL('./upstreams/json-responder.js', import.meta.url)), 'primary'],
      ready: { kind: 'prints-port' },
      label: 'upstream',
    });
    const serverArgs = ['--max-semi-space-size=64', fileURLToPath(new URL('./systems/sluice-auth-server.js', import.meta.url)), '--upstream', `http://127.0.0.1:${upstream.port}`, '--jwks', jwksUrl, '--issuer', issuer];
    const server = spawn(...onCpus(pin ? '1' : null, process.execPath, serverArgs), { stdio: ['pipe', 'pipe', 'inherit'] });
    children.track(server);
    const [port, key] = await new Promise<[number, string]>((resolve, reject) => {
      let out = '';
      server.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /LISTENING (\d+) (\S+)/.exec(out);
        if (m) resolve([Number(m[1]), m[2]!]);
      });
      server.once('exit', (code) => reject(new Error(`sluice-auth-server exited (${code})`)));
    });
    const url = `http://127.0.0.1:${port}`;
    const variants: Variant[] = [
      { name: 'off', path: '/v1/models/bench-open:predict', headers: {} },
      // The A/A control: the same requests as `off`, measured as a variant of its own.
      { name: 'off again', path: '/v1/models/bench-open:predict', headers: {} },
      // The same open service, sent the JWT anyway: what carrying (parsing, forwarding) the ~600-byte header costs,
      // apart from checking it.
      { name: 'off + token header', path: '/v1/models/bench-open:predict', headers: { authorization: `Bearer ${token}` } },
      // The same for the API key: what the api-key variant's requests cost with auth off.
      { name: 'off + key header', path: '/v1/models/bench-open:predict', headers: { authorization: `Bearer ${key}` } },
      { name: 'api-key', path: '/v1/models/bench-key:predict', headers: { authorization: `Bearer ${key}` } },
      { name: 'jwt', path: '/v1/models/bench-jwt:predict', headers: { authorization: `Bearer ${token}` } },
    ];
    // Warm-up (and a check that each variant answers 200).
    for (const v of variants) {
      const w = await wrk(url, v, 8, 2);
      if (w.non2xx > 0) throw new Error(`${v.name}: ${w.non2xx} non-2xx answers in the warm-up`);
    }
    // The half-load rate, once for the whole run: half of `off`'s median saturated throughput over three probes.
    // (Half of each round's own `off` sample put the whole round over capacity whenever that sample was high.)
    const probes: number[] = [];
    for (let i = 0; i < 3; i++) probes.push((await wrk(url, variants[0]!, connections, durationS)).rps);
    const half = median(probes) / 2;
    // samples.get(name)[r]: that variant in round r.
    const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
    const loadBefore = loadavg()[0]!;
    for (let r = 0; r < rounds; r++) {
      const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
      const sat = new Map<string, { rps: number; cpu: number; non2xx: number }>();
      for (const v of order) {
        await wrk(url, v, connections, 1);
        const c0 = cpuSeconds(server.pid!);
        const w = await wrk(url, v, connections, durationS);
        const cpu = ((cpuSeconds(server.pid!) - c0) * 1e6) / w.requests;
        sat.set(v.name, { rps: w.rps, cpu, non2xx: w.non2xx });
      }
      const p50s = new Map<string, { p50: number; non2xx: number }>();
      for (const v of order) {
        const o = await runFixedRate(url, { method: 'POST', path: v.path, body: INFERENCE_BODY, headers: { 'content-type': 'application/json', ...v.headers } }, half, durationS, connections);
        p50s.set(v.name, { p50: o.serviceLatency?.p50 ?? o.latency.p50, non2xx: o.non2xx });
      }
      for (const v of variants) {
        const s = sat.get(v.name)!;
        const h = p50s.get(v.name)!;
        samples.get(v.name)!.push({ rps: s.rps, cpuUsPerReq: s.cpu, p50Half: h.p50, non2xx: s.non2xx + h.non2xx });
      }
      process.stderr.write(`round ${r + 1}/${rounds} done\n`);
    }
    const med = (name: string, f: (x: Sample) => number): number => median(samples.get(name)!.map(f));
    const offRps = med('off', (x) => x.rps);
    const rows = variants.map((v) => {
      const s = samples.get(v.name)!;
      const rps = med(v.name, (x) => x.rps);
      const cpu = med(v.name, (x) => x.cpuUsPerReq);
      const p50 = med(v.name, (x) => x.p50Half);
      return `| ${v.name} | ${rps.toFixed(0)} (${Math.min(...s.map((x) => x.rps)).toFixed(0)}–${Math.max(...s.map((x) => x.rps)).toFixed(0)}) | ${percent(rps / offRps)} | ${cpu.toFixed(1)} | ${p50.toFixed(3)} | ${s.reduce((n, x) => n + x.non2xx, 0)} |`;
    });
    // Each comparison round by round: the median of the per-round figures, and their range over the rounds.
    const range = (xs: number[], f: (x: number) => string): string => formatSpread(spread(xs), f);
    const perRound = (a: VariantName, b: VariantName, f: (x: Sample, y: Sample) => number): number[] =>
      samples.get(a)!.map((x, r) => f(x, samples.get(b)![r]!));
    const compare = (a: VariantName, b: VariantName) => ({
      rps: range(perRound(a, b, (x, y) => x.rps / y.rps), percent),
      cpu: range(perRound(a, b, (x, y) => x.cpuUsPerReq - y.cpuUsPerReq), (x) => signedFixed(x, 1)),
      cpuRatio: median(perRound(a, b, (x, y) => x.cpuUsPerReq / y.cpuUsPerReq)),
      p50: range(perRound(a, b, (x, y) => x.p50Half - y.p50Half), (x) => signedFixed(x, 3)),
    });
    const pairRows = PAIRS.map((p) => {
      const c = compare(p.variant, p.base);
      return `| ${p.variant} vs ${p.base} | ${p.what} | ${c.rps} | ${c.cpu} (${signedFixed((c.cpuRatio - 1) * 100, 1)} %) | ${c.p50} |`;
    });
    const line = (a: VariantName, b: VariantName): string => {
      const c = compare(a, b);
      return `${c.rps} of the throughput, ${c.cpu} µs CPU per request (${signedFixed((c.cpuRatio - 1) * 100, 1)} %), Δp50 at half load ${c.p50} ms`;
    };
    const report = [
      '# Data-plane auth: cost on vs off (same run)',
      '',
      `${new Date().toISOString()} · ${cpus().length} × ${cpus()[0]?.model ?? '?'} · node ${process.version} · load average ${loadBefore.toFixed(2)} → ${loadavg()[0]!.toFixed(2)}`,
      '',
      `Command: \`node dist/load-tests/auth-cost.js --rounds ${rounds} --duration ${durationS} --connections ${connections}${pin ? ' --pin' : ''}\`. ${pin ? 'Pinned: Sluice on CPU 1, everything else on CPU 0. ' : ''}Saturation: wrk -t1 -c${connections}, POST ~200 B JSON, ${durationS} s per run after 1 s unmeasured; half load: the C fixed-rate generator (harness/fixed-rate.c) at ${half.toFixed(0)} req/s, half of \`off\`'s median saturated rate in three probes before the rounds (p50 from the actual send). Medians over ${rounds} rounds (min–max of throughput). The machine is shared: compare within this report.`,
      '',
      '| variant | saturated req/s (min–max) | vs off | Sluice CPU µs/req | p50 at half load (ms) | non-2xx |',
      '|---|---|---|---|---|---|',
      ...rows,
      '',
      `Round by round: each variant against its base measured in the same round; the median over ${rounds} rounds, and the range.`,
      '',
      '| comparison | what it shows | saturated throughput ÷ base | CPU µs/req − base (median ratio) | Δp50 at half load (ms) |',
      '|---|---|---|---|---|',
      ...pairRows,
      '',
      'Goals (issue 16): cached auth costs ≤ 3 % of the saturated throughput and ≤ +0.02 ms p50 at half load, against the same run with auth off.',
      '',
      `- **jwt vs \`off + token header\`** (the same requests, auth on and off): ${line('jwt', 'off + token header')}.`,
      `- **api-key vs \`off + key header\`** (the same requests, auth on and off): ${line('api-key', 'off + key header')}.`,
      `- the A/A control (\`off again\` vs \`off\`): ${line('off again', 'off')}.`,
      `- against requests that carry no credential (\`off\`): jwt ${line('jwt', 'off')}; api-key ${line('api-key', 'off')}.`,
      '',
    ].join('\n');
    const out = fileURLToPath(new URL('../../load-tests/results/', import.meta.url));
    mkdirSync(out, { recursive: true });
    writeFileSync(reportPath ?? join(out, 'auth-cost.md'), report);
    process.stdout.write(report);
  } finally {
    await children.stopAll();
    closeIssuer();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`auth-cost: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
