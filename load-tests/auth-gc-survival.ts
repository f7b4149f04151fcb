/**
 * What a request of each auth variant leaves for the garbage collector, per request, measured on the Sluice
 * process of auth-cost.ts (load-tests/systems/sluice-auth-server.ts, run with `--trace-gc --trace-gc-nvp`) under
 * wrk -t1 -c`--connections`, variants interleaved (order rotated per round): scavenges per million requests
 * (how much a request allocates: the young generation fills once per scavenge), bytes that survived a scavenge
 * and bytes promoted to the old generation, per request, plus CPU µs per request from /proc. Allocation and
 * survival do not depend on how busy the machine is; the CPU column does. Usage:
 *   npm run build && node dist/load-tests/auth-gc-survival.js [--rounds 5] [--duration 4] [--connections 64]
 *        [--variants off,off+hdr,api-key,jwt]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { INFERENCE_BODY } from './harness/load-result.js';
import { runWrk } from './harness/wrk.js';
import { startBenchIssuer } from './support/bench-issuer.js';

function opt(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 || process.argv[i + 1] === undefined ? def : process.argv[i + 1]!;
}

const children: ChildProcess[] = [];

/** Starts `args` under node; resolves once its stdout matches `ready`, and feeds every later chunk to `onOut`. */
function start(args: string[], ready: RegExp, onOut?: (chunk: string) => void): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    // stdin stays open: the upstream exits when it closes.
    const p = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(p);
    let out = '';
    let done = false;
    p.stdout!.on('data', (c: Buffer) => {
      const t = c.toString();
      onOut?.(t);
      if (done) return;
      out += t;
      const m = ready.exec(out);
      if (m) {
        done = true;
        resolve(m);
      }
    });
    p.once('exit', (code) => (done ? undefined : reject(new Error(`${args.join(' ')} exited (${code})`))));
  });
}

function cpuSecondsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Scavenges in `nvp` (--trace-gc-nvp lines) and their survived and promoted bytes. */
function scavenges(nvp: string): { n: number; survived: number; promoted: number } {
  let n = 0;
  let survived = 0;
  let promoted = 0;
  for (const line of nvp.split('\n')) {
    if (!/\bgc=s\b/.test(line)) continue;
    n++;
    survived += Number(/ new_space_survived=(\d+)/.exec(line)?.[1] ?? 0);
    promoted += Number(/ promoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return { n, survived, promoted };
}

async function main(): Promise<void> {
  const rounds = Number(opt('--rounds', '5'));
  const duration = Number(opt('--duration', '4'));
  const connections = Number(opt('--connections', '64'));
  const variants = opt('--variants', 'off,off+hdr,api-key,jwt').split(',');
  const issuer = await startBenchIssuer();
  try {
    const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));
    const up = await start([here('./upstreams/json-responder.js'), 'primary'], /LISTENING (\d+)/);
    let log = '';
    const srv = await start(
      ['--max-semi-space-size=64', '--trace-gc', '--trace-gc-nvp', here('./systems/sluice-auth-server.js'), '--upstream', `http://127.0.0.1:${up[1]}`, '--jwks', issuer.jwksUrl, '--issuer', issuer.issuer],
      /LISTENING (\d+) (\S+)/,
      (c) => (log += c),
    );
    const pid = children[children.length - 1]!.pid!;
    const url = `http://127.0.0.1:${srv[1]}`;
    const shapes: Record<string, { path: string; headers: Record<string, string> }> = {
      off: { path: '/v1/models/bench-open:predict', headers: {} },
      'off+hdr': { path: '/v1/models/bench-open:predict', headers: { authorization: `Bearer ${issuer.token}` } },
      'api-key': { path: '/v1/models/bench-key:predict', headers: { authorization: `Bearer ${srv[2]}` } },
      jwt: { path: '/v1/models/bench-jwt:predict', headers: { authorization: `Bearer ${issuer.token}` } },
    };
    for (const v of variants) if (!shapes[v]) throw new Error(`--variants: "${v}" is not one of ${Object.keys(shapes).join(', ')}`);
    const request = (v: string) => ({ method: 'POST' as const, path: shapes[v]!.path, body: INFERENCE_BODY, headers: { 'content-type': 'application/json', ...shapes[v]!.headers } });
    for (const v of variants) {
      const w = await runWrk(url, request(v), 16, 2);
      if (w.non2xx > 0 || w.completed === 0) throw new Error(`${v}: ${w.non2xx} non-2xx answers of ${w.completed} in the warm-up`);
    }
    const rows = new Map<string, { cpu: number; scav: number; survived: number; promoted: number }[]>(variants.map((v) => [v, []]));
    const load0 = loadavg()[0]!;
    for (let r = 0; r < rounds; r++) {
      for (const v of variants.map((_, i) => variants[(i + r) % variants.length]!)) {
        const at = log.length;
        const c0 = cpuSecondsOf(pid);
        const w = await runWrk(url, request(v), connections, duration);
        const cpu = cpuSecondsOf(pid) - c0;
        await new Promise((res) => setTimeout(res, 200)); // the last trace lines
        const g = scavenges(log.slice(at));
        log = '';
        rows.get(v)!.push({ cpu: (cpu * 1e6) / w.completed, scav: (g.n * 1e6) / w.completed, survived: g.survived / w.completed, promoted: g.promoted / w.completed });
      }
      process.stderr.write(`round ${r + 1}/${rounds} (load average ${loadavg()[0]!.toFixed(2)})\n`);
    }
    const median = (xs: number[]): number => {
      const s = [...xs].sort((a, b) => a - b);
      return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
    };
    const col = (v: string, f: (x: { cpu: number; scav: number; survived: number; promoted: number }) => number, d: number): string => {
      const xs = rows.get(v)!.map(f);
      return `${median(xs).toFixed(d)} [${xs.map((x) => x.toFixed(d)).join(' ')}]`;
    };
    process.stdout.write(
      [
        `${new Date().toISOString()} · node ${process.version} · load average ${load0.toFixed(2)} → ${loadavg()[0]!.toFixed(2)} · wrk -t1 -c${connections}, ${duration} s per variant, ${rounds} rounds`,
        '',
        '| variant | scavenges per 1M requests | survived B/request | promoted B/request | Sluice CPU µs/request |',
        '|---|---|---|---|---|',
        ...variants.map((v) => `| ${v} | ${col(v, (x) => x.scav, 0)} | ${col(v, (x) => x.survived, 1)} | ${col(v, (x) => x.promoted, 2)} | ${col(v, (x) => x.cpu, 1)} |`),
        '',
      ].join('\n'),
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    issuer.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`auth-gc-survival: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const c of children) c.kill('SIGTERM');
  process.exit(1);
});
