/**
 * The auth stage's own CPU per request, in process (no sockets, so a busy shared machine disturbs it far less than
 * the end-to-end run of auth-cost.ts): `onRouted` + `onUpstreamHeaders` for a service with auth none, an API key
 * (cached lookup and cold SHA-256 lookup), a JWT served from the verified-token cache and a Kubernetes token whose
 * TokenReview and SubjectAccessReview are cached (a stand-in API server), plus one cold RS256 verification. Prints ns per request, median of 5 batches. Usage: node dist/load-tests/auth-stage-cost.js
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { hashApiKey, newApiKey } from '../api/api-keys.js';
import { authPolicyOf, type AuthPolicy } from '../api/auth-policy.js';
import type { Route } from '../api/route.js';
import { SystemClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import type { Exchange } from '../gateway/exchange.js';
import { AuthStage } from '../gateway/stages/auth/auth-stage.js';
import { JwksCache } from '../gateway/stages/auth/jwks.js';
import { JwtVerifier } from '../gateway/stages/auth/jwt-verifier.js';

function exchange(route: Route, headers: Record<string, string>): Exchange {
  const attrs = new Map<unknown, unknown>();
  return {
    req: { method: 'POST', headers },
    match: { route, path: '/v1/models/bench:predict', tag: null },
    upstreamDrop: null, // a field of the real Exchange (set by the stage)
    set: (k: unknown, v: unknown) => attrs.set(k, v),
    get: (k: unknown) => attrs.get(k),
  } as unknown as Exchange;
}

function route(auth?: AuthPolicy): Route {
  return { namespace: 'default', service: 'bench', modelName: 'bench', hosts: ['bench-predictor.default.example.com'], targets: [], ...(auth ? { auth } : {}) };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function nsPerOp(n: number, op: () => unknown): Promise<number> {
  const batches: number[] = [];
  for (let b = 0; b < 5; b++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const r = op();
      if (r instanceof Promise) await r;
    }
    const d = process.cpuUsage(t0);
    batches.push(((d.user + d.system) * 1000) / n);
  }
  return median(batches);
}

async function main(): Promise<void> {
  const clock = new SystemClock();
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' };
  const jwks = new JwksCache({ clock, logger: silentLogger(), fetch: async () => ({ keys: [jwk] }) });
  const verifier = new JwtVerifier({ clock, jwks, clockSkewSeconds: 60 });
  const made = newApiKey('bench', [{ namespace: 'default' }], new Date());
  const records = new Map([[made.record.hash, made.record]]);
  const directory = { byHash: (h: string) => records.get(h), version: 1 };
  // Absent from builds before Kubernetes token auth (so the same harness can measure an older build).
  const { KubeAuth } = (await import('../gateway/stages/auth/kube-reviews.js').catch(() => ({ KubeAuth: null }))) as typeof import('../gateway/stages/auth/kube-reviews.js') | { KubeAuth: null };
  const kube = KubeAuth && new KubeAuth({
    clock,
    group: 'serving.kserve.io',
    api: {
      tokenReview: async () => ({ authenticated: true, user: { username: 'system:serviceaccount:default:bench', uid: 'u', groups: [], extra: {} } }),
      accessReview: async () => ({ allowed: true, reason: '' }),
    },
  });
  const stage = new AuthStage({ defaultPolicy: { mode: 'none', key: 'none' }, keys: directory, jwt: verifier, kube, domain: 'example.com' });
  const kubeRoute = route({ mode: 'kubernetes', key: 'kubernetes', audiences: [] });
  const uncached = new AuthStage({ defaultPolicy: { mode: 'none', key: 'none' }, keys: { byHash: (h: string) => records.get(h) }, jwt: verifier, domain: 'example.com' });
  const issuer = 'https://idp';
  const jwtRoute = route(authPolicyOf({ 'sluice.dev/auth': 'jwt', 'sluice.dev/auth-jwt-issuer': issuer, 'sluice.dev/auth-jwt-jwks-url': 'https://idp/jwks' }, ['bench.default.example.com'])!);
  const token = await new SignJWT({ sub: 'bench' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer(issuer).setAudience('https://bench.default.example.com').setIssuedAt().setExpirationTime('1h').sign(privateKey);
  const keyRoute = route({ mode: 'api-key', key: 'api-key' });
  const openRoute = route();
  const headers = (): Record<string, string | string[]> => ({ 'content-type': 'application/json', authorization: 'x' });
  const run = (s: AuthStage, r: Route, h: Record<string, string>) => (): unknown => {
    const ex = exchange(r, h);
    const a = s.onRouted(ex);
    if (a instanceof Promise) return a.then(() => s.onUpstreamHeaders(ex, headers()));
    s.onUpstreamHeaders(ex, headers());
    return undefined;
  };
  // First call fetches the JWKS and fills the caches.
  await run(stage, jwtRoute, { authorization: `Bearer ${token}` })();
  if (kube) await run(stage, kubeRoute, { authorization: `Bearer ${token}` })();
  const N = 200_000;
  const rows: Array<[string, number]> = [
    ['none (stage composed, policy none)', await nsPerOp(N, run(stage, openRoute, {}))],
    ['api-key, cached lookup', await nsPerOp(N, run(stage, keyRoute, { authorization: `Bearer ${made.key}` }))],
    ['api-key, SHA-256 lookup (no cache)', await nsPerOp(N, run(uncached, keyRoute, { authorization: `Bearer ${made.key}` }))],
    ['jwt, verified-token cache hit', await nsPerOp(N, run(stage, jwtRoute, { authorization: `Bearer ${token}` }))],
  ];
  if (kube) rows.push(['kubernetes, TokenReview + SubjectAccessReview cached', await nsPerOp(N, run(stage, kubeRoute, { authorization: `Bearer ${token}` }))]);
  let i = 0;
  const cold = await nsPerOp(2_000, async () => {
    const t = await new SignJWT({ sub: 'bench' }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer(issuer).setAudience('https://bench.default.example.com').setIssuedAt().setExpirationTime('1h').setJti(String(i++)).sign(privateKey);
    void hashApiKey;
    return run(stage, jwtRoute, { authorization: `Bearer ${t}` })();
  });
  rows.push(['jwt, cold RS256 verify (includes signing a fresh token)', cold]);
  process.stdout.write(`${new Date().toISOString()} node ${process.version}\n| path | CPU ns per request |\n|---|---|\n${rows.map(([k, v]) => `| ${k} | ${v.toFixed(0)} |`).join('\n')}\n`);
  jwks.close();
}

main().catch((err: unknown) => {
  process.stderr.write(`auth-stage-cost: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
