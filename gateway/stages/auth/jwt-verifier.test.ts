import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { silentLogger } from '../../../core/log.js';
import { JwksCache } from './jwks.js';
import { JwtVerifier } from './jwt-verifier.js';

describe('JwtVerifier cache', () => {
  it('is bounded (oldest out), keys long tokens by hash, and expires entries with the token', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' };
    const jwks = new JwksCache({ clock, logger: silentLogger(), fetch: async () => ({ keys: [jwk] }) });
    const v = new JwtVerifier({ clock, jwks, clockSkewSeconds: 0, maxEntries: 2 });
    const rules = { issuer: 'https://idp', audiences: ['aud'], algorithms: ['RS256'], requiredClaims: [], jwksUrl: 'https://idp/jwks' };
    const now = Math.floor(clock.now() / 1000);
    const sign = (sub: string, extra: Record<string, unknown> = {}, exp = now + 3600): Promise<string> =>
      new SignJWT({ sub, ...extra }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer('https://idp').setAudience('aud').setIssuedAt(now).setExpirationTime(exp).sign(privateKey);
    const [a, b, c] = await Promise.all([sign('a'), sign('b'), sign('c', { pad: 'x'.repeat(3000) }, now + 60)]);
    expect(c.length).toBeGreaterThan(2048);
    for (const t of [a, b, c]) await v.verify(rules, t, 'P');
    expect(v.size).toBe(2);
    expect(v.cached('P', a)).toBeUndefined();
    expect(v.cached('P', b)?.principal).toEqual({ method: 'jwt', subject: 'b' });
    expect(v.cached('P', c)?.subject).toBe('c');
    expect(v.cached('other rules', b)).toBeUndefined();
    // Found by its tail, but compared whole: another token ending the same way is not a hit.
    expect(v.cached('P', `x${b.slice(1)}`)).toBeUndefined();
    expect(v.cached('P', `${b.slice(0, -40)}`)).toBeUndefined();
    expect(v.cached('P', `${b}`)?.subject).toBe('b');
    clock.advance(60_000);
    expect(v.cached('P', c)).toBeUndefined();
    expect(v.cached('P', b)).toBeDefined();
    jwks.close();
  });

  it('serves the last hit again only while its entry is in the cache and valid, for the same rules and the same token', async () => {
    const clock = new FakeClock(Date.parse('2026-01-01T00:00:00Z'));
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k', alg: 'RS256' };
    const jwks = new JwksCache({ clock, logger: silentLogger(), fetch: async () => ({ keys: [jwk] }) });
    const v = new JwtVerifier({ clock, jwks, clockSkewSeconds: 0, maxEntries: 1 });
    const rules = { issuer: 'https://idp', audiences: ['aud'], algorithms: ['RS256'], requiredClaims: [], jwksUrl: 'https://idp/jwks' };
    const now = Math.floor(clock.now() / 1000);
    const sign = (sub: string, exp: number): Promise<string> =>
      new SignJWT({ sub }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).setIssuer('https://idp').setAudience('aud').setIssuedAt(now).setExpirationTime(exp).sign(privateKey);
    const [a, b] = await Promise.all([sign('a', now + 3600), sign('b', now + 60)]);
    await v.verify(rules, a, 'P');
    expect(v.cached('P', a)?.subject).toBe('a');
    expect(v.cached('P', `${a}`)?.subject).toBe('a'); // an equal string, not the same one (each request's header is new)
    expect(v.cached('Q', a)).toBeUndefined(); // other rules
    expect(v.cached('P', `${a.slice(0, -1)}x`)).toBeUndefined(); // another token
    // b takes a's place (maxEntries 1): a, the last hit, is gone with its entry.
    await v.verify(rules, b, 'P');
    expect(v.size).toBe(1);
    expect(v.cached('P', a)).toBeUndefined();
    expect(v.cached('P', b)?.subject).toBe('b');
    // b, now the last hit, expires: it is not served, and its entry is dropped.
    clock.advance(60_000);
    expect(v.cached('P', b)).toBeUndefined();
    expect(v.size).toBe(0);
    jwks.close();
  });
});
