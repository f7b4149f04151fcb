/**
 * The in-process part of a proxied request that auth touches, for `off`, `off + token header` and a cached `jwt`
 * (the variants of auth-cost.ts), A/B between builds, interleaved: the request's header strings made fresh from
 * bytes (as Node's parser makes them: a new ~600-byte `authorization` string per request), a real Exchange, the
 * auth stage's onRouted, the replica's headers built (forward-headers.ts, with the stage's `upstreamDrop`), the
 * stage's onUpstreamHeaders, and the request head Sluice's own upstream client writes (upstream-client.ts
 * `requestWire`, which checks every header). No sockets, so a busy shared machine disturbs it far less than the
 * end-to-end run. CPU ns per request (process.cpuUsage), median of the rounds; every round runs every variant of
 * every build. Usage:
 *   npm run build && node dist/load-tests/auth-jwt-path-cost.js [--builds base=/tmp/base,new=.] [--rounds 11]
 * Each build is a directory holding a built `dist/` (default: this checkout).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { Route } from '../api/route.js';

function opt(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i === -1 || process.argv[i + 1] === undefined ? def : process.argv[i + 1]!;
}

const N = 100_000;
const VARIANTS = ['off', 'off + token header', 'jwt'] as const;
type Variant = (typeof VARIANTS)[number];

/** One request of `variant` through `dir`'s build; returns a function that runs one (synchronously, cache hits only). */
async function build(dir: string, token: string, jwk: object, issuer: string): Promise<Record<Variant, (i: number) => void>> {
  const load = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(join(dir, 'dist', rel)).href)) as T;
  const { Exchange } = await load<typeof import('../gateway/exchange.js')>('gateway/exchange.js');
  const { upstreamRequestHeaders } = await load<typeof import('../gateway/forward-headers.js')>('gateway/forward-headers.js');
  const { requestWire } = await load<typeof import('../gateway/upstream-client.js')>('gateway/upstream-client.js');
  const { AuthStage } = await load<typeof import('../gateway/stages/auth/auth-stage.js')>('gateway/stages/auth/auth-stage.js');
  const { JwksCache } = await load<typeof import('../gateway/stages/auth/jwks.js')>('gateway/stages/auth/jwks.js');
  const { JwtVerifier } = await load<typeof import('../gateway/stages/auth/jwt-verifier.js')>('gateway/stages/auth/jwt-verifier.js');
  const { authPolicyOf } = await load<typeof import('../api/auth-policy.js')>('api/auth-policy.js');
  const { SystemClock } = await load<typeof import('../core/clock.js')>('core/clock.js');
  const { silentLogger } = await load<typeof import('../core/log.js')>('core/log.js');
  const clock = new SystemClock();
  const jwks = new JwksCache({ clock, logger: silentLogger(), fetch: async () => ({ keys: [jwk] }) });
  const verifier = new JwtVerifier({ clock, jwks, clockSkewSeconds: 60 });
  const stage = new AuthStage({ defaultPolicy: { mode: 'none', key: 'none' }, keys: { byHash: () => undefined, version: 1 }, jwt: verifier, domain: 'example.com' });
  const route = (auth: Route['auth'] | null): Route => ({ namespace: 'default', service: 'bench', modelName: 'bench', hosts: ['bench-predictor.default.example.com'], targets: [], ...(auth ? { auth } : {}) });
  const jwtRoute = route(authPolicyOf({ 'sluice.dev/auth': 'jwt', 'sluice.dev/auth-jwt-issuer': issuer, 'sluice.dev/auth-jwt-jwks-url': 'https://idp/jwks' }, ['bench.default.example.com']));
  const openRoute = route(null);
  const socket = { remoteAddress: '127.0.0.1' };
  const pipeline = { upstreamHeaders: (ex: InstanceType<typeof Exchange>, h: Record<string, string | string[]>) => stage.onUpstreamHeaders(ex, h) };
  const authBytes = Buffer.from(`Bearer ${token}`, 'latin1');
  const kept = new Array<unknown>(256);
  let bytes = 0;
  const one = (i: number, r: Route, withToken: boolean): unknown => {
    const headers: Record<string, string> = { host: '127.0.0.1:8080', 'content-type': 'application/json', 'content-length': '210', 'user-agent': 'wrk' };
    if (withToken) headers.authorization = authBytes.toString('latin1');
    const req = { method: 'POST', headers, socket } as unknown as IncomingMessage;
    const ex = new Exchange(req, {} as ServerResponse, 0, 0, pipeline as never);
    ex.match = { route: r, path: '/v1/models/bench:predict', tag: null } as unknown as InstanceType<typeof Exchange>['match'];
    const a = stage.onRouted(ex);
    if (a !== undefined) return a;
    const h = upstreamRequestHeaders(req, ex.upstreamDrop);
    ex.upstreamHeaders(h);
    bytes += requestWire('POST', '/v1/models/bench:predict', '127.0.0.1:9000', h, null).length;
    kept[i & 255] = ex;
    return undefined;
  };
  // The first JWT request verifies the token (and fetches the JWKS); every later one is a cache hit.
  const first = one(0, jwtRoute, true);
  if (first instanceof Promise && (await first) !== undefined) throw new Error(`${dir}: the bench token was refused`);
  const strict = (r: Route, withToken: boolean) => (i: number): void => {
    if (one(i, r, withToken) !== undefined) throw new Error(`${dir}: a request was not served from the caches`);
  };
  // (The JWKS cache is left open: the process exits when the measurement is printed.)
  return { off: strict(openRoute, false), 'off + token header': strict(openRoute, true), jwt: strict(jwtRoute, true) };
}

async function main(): Promise<void> {
  const builds = opt('--builds', 'this=.')
    .split(',')
    .map((s) => {
      const eq = s.indexOf('=');
      if (eq < 1) throw new Error(`--builds: expected name=dir[,name=dir], got "${s}"`);
      return { name: s.slice(0, eq), dir: resolve(s.slice(eq + 1)) };
    });
  const rounds = Number(opt('--rounds', '11'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' };
  const issuer = 'https://idp.bench.local';
  const token = await new SignJWT({ sub: 'bench-client' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer(issuer).setAudience('https://bench.default.example.com').setIssuedAt().setExpirationTime('2h').sign(privateKey);
  const runs = await Promise.all(builds.map(async (b) => ({ ...b, run: await build(b.dir, token, jwk, issuer) })));
  for (const b of runs) for (const v of VARIANTS) for (let i = 0; i < N; i++) b.run[v](i);
  const ns = new Map<string, number[]>();
  for (let r = 0; r < rounds; r++) {
    for (const b of r % 2 === 0 ? runs : [...runs].reverse())
      for (const v of VARIANTS) {
        const t0 = process.cpuUsage();
        for (let i = 0; i < N; i++) b.run[v](i);
        const d = process.cpuUsage(t0);
        const key = `${b.name}\n${v}`;
        ns.set(key, [...(ns.get(key) ?? []), ((d.user + d.system) * 1000) / N]);
      }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const cell = (b: string, v: Variant): string => {
    const m = median(ns.get(`${b}\n${v}`)!);
    const off = median(ns.get(`${b}\noff`)!);
    return v === 'off' ? m.toFixed(0) : `${m.toFixed(0)} (+${(m - off).toFixed(0)})`;
  };
  process.stdout.write(
    [
      `${new Date().toISOString()} · node ${process.version} · ${rounds} rounds of ${N.toLocaleString('en')} requests per variant and build`,
      '',
      `| variant | ${runs.map((b) => `${b.name}: CPU ns/request (Δ vs off)`).join(' | ')} |`,
      `|---|${runs.map(() => '---|').join('')}`,
      ...VARIANTS.map((v) => `| ${v} | ${runs.map((b) => cell(b.name, v)).join(' | ')} |`),
      '',
    ].join('\n'),
  );
  process.exit(0);
}

main().catch((err: unknown) => {
  process.stderr.write(`auth-jwt-path-cost: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
