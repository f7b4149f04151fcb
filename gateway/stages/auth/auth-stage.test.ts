import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Route } from '../../../api/route.js';
import { FakeClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/log.js';
import type { Exchange } from '../../exchange.js';
import type { HeaderBag, Refusal } from '../../stage.js';
import { AuthStage, PRINCIPAL } from './auth-stage.js';
import { JwksCache } from './jwks.js';
import { JwtVerifier } from './jwt-verifier.js';

function exchange(route: Route, headers: Record<string, string>, method = 'POST', path = '/v1/models/x:predict'): Exchange {
  const attrs = new Map<unknown, unknown>();
  return {
    req: { method, headers },
    match: { route, path, tag: null },
    set: (k: unknown, v: unknown) => attrs.set(k, v),
    get: (k: unknown) => attrs.get(k),
  } as unknown as Exchange;
}

const route = (service: string, extra: Partial<Route> = {}): Route => ({
  namespace: 'team-a',
  service,
  modelName: service,
  hosts: [`${service}-predictor.team-a.example.com`],
  targets: [],
  ...extra,
});

describe('auth stage', () => {
  it('a gateway-wide jwt default with no audiences takes each service\'s own URL as its audience', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'ES256' };
    const jwks = new JwksCache({ clock, logger: silentLogger(), fetch: async () => ({ keys: [jwk] }) });
    const jwt = { issuer: 'https://idp', audiences: [], algorithms: ['ES256'], requiredClaims: [], jwksUrl: 'https://idp/jwks' };
    const stage = new AuthStage({
      defaultPolicy: { mode: 'jwt', key: 'default', jwt },
      keys: { byHash: () => undefined },
      jwt: new JwtVerifier({ clock, jwks, clockSkewSeconds: 60 }),
      domain: 'example.com',
    });
    const token = (aud: string): Promise<string> =>
      new SignJWT({ sub: 'svc-account' }).setProtectedHeader({ alg: 'ES256', kid: 'k' }).setIssuer('https://idp').setAudience(aud).setIssuedAt(clock.now() / 1000).setExpirationTime(clock.now() / 1000 + 600).sign(privateKey);
    const forA = await token('https://alpha.team-a.example.com');
    const exA = exchange(route('alpha'), { authorization: `Bearer ${forA}` });
    expect(await stage.onRouted(exA)).toBeUndefined();
    expect(exA.get(PRINCIPAL)).toEqual({ method: 'jwt', subject: 'svc-account' });
    // The same token sent to another service: not its audience.
    const refused = (await stage.onRouted(exchange(route('beta'), { authorization: `Bearer ${forA}` }))) as Refusal;
    expect(refused.status).toBe(401);
    expect(refused.message).toBe("the token's audience (aud) is not this service");
    // The predictor's own URL is an audience too.
    expect(await stage.onRouted(exchange(route('beta'), { authorization: `Bearer ${await token('http://beta-predictor.team-a.example.com')}` }))).toBeUndefined();
    // Readiness and metadata probes are open.
    expect(stage.onRouted(exchange(route('beta'), {}, 'GET', '/v2/models/beta/ready'))).toBeUndefined();
    expect(stage.onRouted(exchange(route('beta'), {}, 'GET', '/v1/models/beta'))).toBeUndefined();
    expect((stage.onRouted(exchange(route('beta'), {}, 'POST', '/v2/models/beta/infer')) as Refusal).status).toBe(401);
    jwks.close();
  });

  it('strips the client\'s credentials unless the service asks for them; always replaces identity headers', () => {
    const record = { id: 'abcd', name: 'ci', hash: '', scopes: [{ namespace: '*' }], createdAt: '' };
    const stage = new AuthStage({ defaultPolicy: { mode: 'none', key: 'none' }, keys: { byHash: () => record }, jwt: null, domain: 'example.com' });
    const key = `sk-sluice-${'0'.repeat(16)}.${'A'.repeat(43)}`;
    for (const forward of [false, true]) {
      const r = route('alpha', { auth: { mode: 'api-key', key: 'api-key' }, ...(forward ? { forwardCredentials: true as const } : {}) });
      const ex = exchange(r, { 'x-api-key': key });
      expect(stage.onRouted(ex)).toBeUndefined();
      // A caller with an identity: its headers are written (the forward builds a header object for them).
      expect(stage.wantsUpstreamHeaders(ex)).toBe(true);
      const h: HeaderBag = { 'x-api-key': key, authorization: 'Bearer other', 'x-sluice-subject': 'mallory', 'x-sluice-key-id': 'forged' };
      stage.onUpstreamHeaders(ex, h);
      expect(h['x-sluice-subject']).toBe('apikey:ci');
      expect(h['x-sluice-key-id']).toBe('abcd');
      expect(h['x-api-key']).toBe(forward ? key : undefined);
      expect(h.authorization).toBe(forward ? 'Bearer other' : undefined);
    }
    // A service with auth none: nothing stripped but spoofed identity.
    const open = exchange(route('open'), { authorization: 'Bearer for-the-replica' });
    expect(stage.onRouted(open)).toBeUndefined();
    // Nothing to write: the spoofed identity is left out by the exchange's upstreamDrop alone.
    expect(stage.wantsUpstreamHeaders(open)).toBe(false);
    expect(open.upstreamDrop?.names.has('x-sluice-subject')).toBe(true);
    const h: HeaderBag = { authorization: 'Bearer for-the-replica', 'x-sluice-subject': 'mallory' };
    stage.onUpstreamHeaders(open, h);
    expect(h).toEqual({ authorization: 'Bearer for-the-replica' });
  });
});
