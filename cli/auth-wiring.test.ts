import { describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from '../core/config.js';
import { defaultAuthPolicy } from './auth-wiring.js';

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
});
