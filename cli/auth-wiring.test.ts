import { describe, expect, it } from 'vitest';
import { resolveServeConfig, SERVE_DEFAULTS } from '../core/config.js';
import { SystemClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import { dataAuth, defaultAuthPolicy } from './auth-wiring.js';
import { startTestSluice } from '../test/support/embedded.js';

describe('the gateway-wide auth default (dataAuth)', () => {
  it('is none by default; api-key as given', () => {
    expect(defaultAuthPolicy(SERVE_DEFAULTS)).toEqual({ mode: 'none', key: 'none' });
    expect(defaultAuthPolicy({ ...SERVE_DEFAULTS, dataAuth: 'api-key' })).toEqual({ mode: 'api-key', key: 'api-key' });
  });

  it('jwt needs jwtIssuer and jwtJwksUrl, and says which is missing', () => {
    expect(() => defaultAuthPolicy({ ...SERVE_DEFAULTS, dataAuth: 'jwt' })).toThrow(/jwtIssuer is empty/);
    expect(() => defaultAuthPolicy({ ...SERVE_DEFAULTS, dataAuth: 'jwt', jwtIssuer: 'https://idp' })).toThrow(/jwtJwksUrl is empty/);
    const p = defaultAuthPolicy({ ...SERVE_DEFAULTS, dataAuth: 'jwt', jwtIssuer: 'https://idp', jwtJwksUrl: 'https://idp/jwks' });
    // No audiences configured: each service's own URLs, filled in per service by the stage.
    expect(p).toMatchObject({ mode: 'jwt', jwt: { issuer: 'https://idp', jwksUrl: 'https://idp/jwks', audiences: [], algorithms: ['RS256', 'ES256'] } });
  });

  it('kubernetes: accepted by the setting, Kubernetes tokens for every service without its own annotation (cluster mode)', () => {
    expect(resolveServeConfig({ dataAuth: 'kubernetes' }).dataAuth).toBe('kubernetes');
    expect(() => resolveServeConfig({ dataAuth: 'kube' })).toThrow(/dataAuth.*none, api-key, jwt, kubernetes/);
    expect(defaultAuthPolicy({ ...SERVE_DEFAULTS, dataAuth: 'kubernetes' })).toEqual({ mode: 'kubernetes', key: 'kubernetes', audiences: [] });
    const api = { tokenReview: async () => ({ authenticated: false as const, error: '' }), accessReview: async () => ({ allowed: false, reason: '' }) };
    const a = dataAuth({ ...SERVE_DEFAULTS, dataAuth: 'kubernetes' }, { clock: new SystemClock(), logger: silentLogger(), keys: { byHash: () => undefined }, kubernetes: { api, group: 'g' } });
    expect(a.kube).not.toBeNull();
    a.close();
  });

  const EMBEDDED = /^dataAuth is "kubernetes", which needs a Kubernetes API server to review tokens \(TokenReview, SubjectAccessReview\): only cluster mode has one; in embedded mode \(sluice serve\) set dataAuth \(--data-auth, SLUICE_DATA_AUTH\) to api-key or jwt/;

  it('kubernetes without an API server (embedded mode, its workers) is refused, naming the setting', () => {
    expect(() => dataAuth({ ...SERVE_DEFAULTS, dataAuth: 'kubernetes' }, { clock: new SystemClock(), logger: silentLogger(), keys: { byHash: () => undefined } })).toThrow(EMBEDDED);
  });

  it('sluice serve with dataAuth kubernetes does not start', async () => {
    await expect(startTestSluice(null, { dataAuth: 'kubernetes' })).rejects.toThrow(EMBEDDED);
  });
});
