import { describe, expect, it } from 'vitest';
import { authPolicyOf, authWarnings, checkAuthAnnotations } from './auth-policy.js';

const JWT = {
  'sluice.dev/auth': 'jwt',
  'sluice.dev/auth-jwt-issuer': 'https://issuer.example.com',
  'sluice.dev/auth-jwt-jwks-url': 'https://issuer.example.com/.well-known/jwks.json',
};

describe('sluice.dev/auth annotations', () => {
  it('accepts the modes and a complete JWT policy', () => {
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'none' })).toEqual([]);
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'api-key', 'sluice.dev/auth-forward-credentials': 'true' })).toEqual([]);
    expect(checkAuthAnnotations({ ...JWT, 'sluice.dev/auth-jwt-audiences': 'a,b', 'sluice.dev/auth-jwt-algorithms': 'ES256', 'sluice.dev/auth-jwt-required-claims': 'scope=predict,tenant' })).toEqual([]);
  });

  it('names each bad field: mode, missing issuer and JWKS, algorithms never accepted, claims, typos, JWT keys without jwt', () => {
    const at = (k: string): string => `metadata.annotations[${JSON.stringify(k)}]`;
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'oauth' })).toEqual([{ path: at('sluice.dev/auth'), message: '"oauth" is not one of none, api-key, jwt, kubernetes' }]);
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'jwt' }).map((i) => i.path)).toEqual([at('sluice.dev/auth-jwt-issuer'), at('sluice.dev/auth-jwt-jwks-url')]);
    const algs = checkAuthAnnotations({ ...JWT, 'sluice.dev/auth-jwt-algorithms': 'RS256,none,HS256' });
    expect(algs.map((i) => i.message)).toEqual([expect.stringMatching(/^"none" is not accepted/), expect.stringMatching(/^"HS256" is not accepted/)]);
    expect(checkAuthAnnotations({ ...JWT, 'sluice.dev/auth-jwt-jwks-url': 'file:///etc/keys' })[0]!.message).toMatch(/expected an http or https URL/);
    expect(checkAuthAnnotations({ ...JWT, 'sluice.dev/auth-jwt-required-claims': 'sc ope' })[0]!.path).toBe(at('sluice.dev/auth-jwt-required-claims'));
    expect(checkAuthAnnotations({ 'sluice.dev/auth-mode': 'jwt' })[0]!.message).toMatch(/^unknown auth annotation/);
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'api-key', 'sluice.dev/auth-jwt-issuer': 'x' })).toEqual([
      { path: at('sluice.dev/auth-jwt-issuer'), message: 'only read when sluice.dev/auth is "jwt"' },
    ]);
  });

  it('makes the policy: the service URLs as default audiences, RS256/ES256 by default, none without the annotation', () => {
    expect(authPolicyOf({}, ['iris.default.example.com'])).toBeNull();
    const p = authPolicyOf(JWT, ['iris.default.example.com']);
    expect(p).toMatchObject({
      mode: 'jwt',
      jwt: { audiences: ['https://iris.default.example.com', 'http://iris.default.example.com'], algorithms: ['RS256', 'ES256'], requiredClaims: [] },
    });
    const q = authPolicyOf({ ...JWT, 'sluice.dev/auth-jwt-audiences': 'https://api.example.com', 'sluice.dev/auth-jwt-required-claims': 'scope=predict,tenant' }, ['x']);
    expect(q).toMatchObject({ jwt: { audiences: ['https://api.example.com'], requiredClaims: [{ name: 'scope', value: 'predict' }, { name: 'tenant' }] } });
    expect(q!.key).not.toBe(p!.key);
  });

  it('sluice.dev/auth-kubernetes-audiences: read with kubernetes only, bounded, each audience without spaces; the policy asks for them', () => {
    const at = 'metadata.annotations["sluice.dev/auth-kubernetes-audiences"]';
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'kubernetes', 'sluice.dev/auth-kubernetes-audiences': 'https://iris.example.com, sluice' })).toEqual([]);
    expect(checkAuthAnnotations({ ...JWT, 'sluice.dev/auth-kubernetes-audiences': 'a' })).toEqual([{ path: at, message: 'only read when sluice.dev/auth is "kubernetes"' }]);
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'kubernetes', 'sluice.dev/auth-kubernetes-audiences': ' , ' })).toEqual([{ path: at, message: 'expected one or more audiences separated by commas' }]);
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'kubernetes', 'sluice.dev/auth-kubernetes-audiences': 'a b,ok' })).toEqual([{ path: at, message: '"a b": an audience is printable ASCII without spaces' }]);
    const many = Array.from({ length: 17 }, (_, i) => `a${i}`).join(',');
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'kubernetes', 'sluice.dev/auth-kubernetes-audiences': many })).toEqual([{ path: at, message: '17 audiences: at most 16' }]);
    expect(checkAuthAnnotations({ 'sluice.dev/auth': 'kubernetes', 'sluice.dev/auth-kubernetes-audiences': 'x'.repeat(513) })).toEqual([{ path: at, message: 'an audience longer than 512 characters (513)' }]);
    expect(authPolicyOf({ 'sluice.dev/auth': 'kubernetes' }, ['x'])).toEqual({ mode: 'kubernetes', key: 'kubernetes', audiences: [] });
    const p = authPolicyOf({ 'sluice.dev/auth': 'kubernetes', 'sluice.dev/auth-kubernetes-audiences': 'sluice,https://iris.example.com,sluice' }, ['x']);
    expect(p).toEqual({ mode: 'kubernetes', key: 'kubernetes:https://iris.example.com,sluice', audiences: ['https://iris.example.com', 'sluice'] });
  });

  it('warns that the enable-auth of OpenDataHub is not read, unless sluice.dev/auth is set', () => {
    expect(authWarnings({ 'serving.kserve.io/enable-auth': 'true' })).toEqual([
      expect.stringMatching(/^metadata\.annotations\["serving\.kserve\.io\/enable-auth"\]: not read by Sluice/),
    ]);
    expect(authWarnings({ 'serving.kserve.io/enable-auth': 'true', 'sluice.dev/auth': 'jwt' })).toEqual([]);
    expect(authWarnings({ 'serving.kserve.io/enable-auth': 'false' })).toEqual([]);
  });
});
