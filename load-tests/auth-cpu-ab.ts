/**
 * CPU per request of the Sluice process for each auth variant, A/B between builds, interleaved: the measure the
 * auth cost goal needs on a machine where wall time and throughput mean little (other processes). Each build is
 * a directory holding a built `dist/` (e.g. a worktree, or a copy of one's dist made before a change); each runs
 * its own upstream and its own `sluice-auth-server` at once. Every round measures every variant on every build
 * (variant order rotated, build order alternated): wrk -t1 -c`--connections` for `--duration` + 2 s, and after
 * 1 s, `perf stat -e <event> -p <sluice pid> -- sleep <duration>`, divided by the requests the upstream counted in
 * that window (its `/__stats`, so nothing outside the window counts).
 *
 * `--event instructions:u` (default) needs hardware counters; on a VM without them perf reports "<not supported>",
 * and `--event task-clock` (CPU time, ms → µs per request) is the fallback. Usage:
 *   node dist/load-tests/auth-cpu-ab.js --builds base=/tmp/base,new=. [--rounds 5] [--duration 5]
 *        [--connections 16] [--event instructions:u|task-clock] [--variants off,off+hdr,api-key,jwt]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { INFERENCE_BODY } from './harness/load-result.js';
import { startBenchIssuer } from './support/bench-issuer.js';

function opt(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 || process.argv[i + 1] === undefined ? def : process.argv[i + 1]!;
}

interface Build {
  name: string;
  dir: string;
  pid: number;
  url: string;
  upstream: string;
  key: string;
}

const VARIANTS = ['off', 'off+hdr', 'api-key', 'jwt'] as const;
type VariantName = (typeof VARIANTS)[number];

const children: ChildProcess[] = [];

function start(args: string[], re: RegExp): Promise<[ChildProcess, RegExpExecArray]> {
  return new Promise((resolvePromise, reject) => {
    const c = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(c);
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) resolvePromise([c, m]);
    });
    c.once('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code})`)));
  });
}

function run(cmd: string, args: string[], stream: 'stdout' | 'stderr'): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const c = spawn(cmd, args, { stdio: ['ignore', stream === 'stdout' ? 'pipe' : 'ignore', stream === 'stderr' ? 'pipe' : 'inherit'] });
    let out = '';
    c[stream]!.on('data', (d: Buffer) => (out += d.toString()));
    c.once('error', reject);
    c.once('exit', () => resolvePromise(out));
  });
}

async function counted(b: Build): Promise<number> {
  const r = await fetch(`${b.upstream}/__stats`);
  return ((await r.json()) as { requests: number }).requests;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, c) => a - c);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

async function main(): Promise<void> {
  const builds = opt('--builds', '')
    .split(',')
    .filter(Boolean)
    .map((s) => {
      const eq = s.indexOf('=');
      if (eq < 1) throw new Error(`--builds: expected name=dir[,name=dir], got "${s}"`);
      return { name: s.slice(0, eq), dir: resolve(s.slice(eq + 1)) };
    });
  if (builds.length === 0) throw new Error('--builds is required: name=dir[,name=dir] (each dir holds a built dist/)');
  const rounds = Number(opt('--rounds', '5'));
  const duration = Number(opt('--duration', '5'));
  const connections = Number(opt('--connections', '16'));
  const event = opt('--event', 'instructions:u');
  const variants = opt('--variants', VARIANTS.join(',')).split(',') as VariantName[];
  for (const v of variants) if (!(VARIANTS as readonly string[]).includes(v)) throw new Error(`--variants: "${v}" is not one of ${VARIANTS.join(', ')}`);
  const perUnit = event.startsWith('task-clock') ? 1000 : 1; // task-clock is in ms: report µs per request

  const { issuer, jwksUrl, token, close: closeIssuer } = await startBenchIssuer();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-auth-ab-'));
  try {
    const running: Build[] = [];
    for (const b of builds) {
      const [, um] = await start([join(b.dir, 'dist/load-tests/upstreams/json-responder.js'), b.name], /LISTENING (\d+)/);
      const upstream = `http://127.0.0.1:${um[1]}`;
      const [srv, sm] = await start(
        ['--max-semi-space-size=64', join(b.dir, 'dist/load-tests/systems/sluice-auth-server.js'), '--upstream', upstream, '--jwks', jwksUrl, '--issuer', issuer],
        /LISTENING (\d+) (\S+)/,
      );
      running.push({ ...b, pid: srv.pid!, url: `http://127.0.0.1:${sm[1]}`, upstream, key: sm[2]! });
    }
    const script = (v: VariantName, b: Build): [string, string] => {
      const path = v === 'off' || v === 'off+hdr' ? '/v1/models/bench-open:predict' : v === 'api-key' ? '/v1/models/bench-key:predict' : '/v1/models/bench-jwt:predict';
      const auth = v === 'off' ? null : v === 'api-key' ? `Bearer ${b.key}` : `Bearer ${token}`;
      const lines = ['wrk.method = "POST"', 'wrk.headers["content-type"] = "application/json"', `wrk.body = ${JSON.stringify(INFERENCE_BODY)}`];
      if (auth) lines.push(`wrk.headers["authorization"] = ${JSON.stringify(auth)}`);
      const f = join(dir, `${b.name}-${v}.lua`);
      writeFileSync(f, lines.join('\n') + '\n');
      return [f, b.url + path];
    };
    const wrk = (f: string, url: string, s: number): Promise<string> => run('wrk', ['-t1', `-c${connections}`, `-d${s}s`, '-s', f, url], 'stdout');
    for (const b of running)
      for (const v of variants) {
        const [f, url] = script(v, b);
        const out = await wrk(f, url, 2);
        if (/Non-2xx/.test(out)) throw new Error(`${b.name} ${v}: non-2xx answers in the warm-up:\n${out}`);
      }
    const samples = new Map<string, number[]>();
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < variants.length; i++) {
        const v = variants[(i + r) % variants.length]!;
        for (const b of r % 2 ? [...running].reverse() : running) {
          const [f, url] = script(v, b);
          const load = wrk(f, url, duration + 2);
          await new Promise((res) => setTimeout(res, 1000));
          const before = await counted(b);
          const perf = await run('perf', ['stat', '-x,', '-e', event, '-p', String(b.pid), '--', 'sleep', String(duration)], 'stderr');
          const requests = (await counted(b)) - before;
          await load;
          const line = perf.split('\n').find((l) => l.includes(event.split(':')[0]!)) ?? '';
          const value = Number(line.split(',')[0]);
          if (!Number.isFinite(value)) throw new Error(`perf stat -e ${event}: no count (${line.trim() || perf.trim()}); try --event task-clock`);
          const per = (value * perUnit) / requests;
          const k = `${v}\u0000${b.name}`;
          samples.set(k, [...(samples.get(k) ?? []), per]);
          process.stderr.write(`round ${r + 1} ${v} ${b.name}: ${per.toFixed(1)} (${requests} requests)\n`);
        }
      }
    }
    const unit = perUnit === 1 ? `${event} per request` : 'CPU µs per request';
    const lines = [
      `| variant | ${running.map((b) => `${b.name}: ${unit} (Δ vs off)`).join(' | ')} |`,
      `|---|${running.map(() => '---|').join('')}`,
      ...variants.map((v) => {
        const cells = running.map((b) => {
          const s = samples.get(`${v}\u0000${b.name}`)!;
          const off = samples.get(`off\u0000${b.name}`);
          const d = off ? median(s) - median(off) : NaN;
          return `${median(s).toFixed(1)} (${d >= 0 ? '+' : ''}${d.toFixed(1)}) [${s.map((x) => x.toFixed(1)).join(' ')}]`;
        });
        return `| ${v} | ${cells.join(' | ')} |`;
      }),
    ];
    process.stdout.write(`${lines.join('\n')}\n\nMedians of ${rounds} rounds [each round]; wrk -t1 -c${connections}, ${duration} s windows.\n`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    closeIssuer();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`auth-cpu-ab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  for (const c of children) c.kill('SIGTERM');
  process.exit(1);
});
