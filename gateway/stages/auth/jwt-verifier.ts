/**
 * Verifies bearer JWTs against a service's rules (api/auth-policy.ts) with jose, and remembers tokens that
 * passed: a verify costs ~100-200 µs of CPU (RS256/ES256), a cache hit one comparison when it is the previous hit's
 * token under the same rules, else two map lookups (the rules, then the token's tail) and one comparison
 * (token-cache.ts). The cache is per set of rules, bounded in total (`maxEntries`, oldest first out), and an entry
 * lives until the token expires (plus the clock skew) or `maxEntryMs`, whichever is sooner. Tokens that fail are
 * not remembered.
 */
import { errors, jwtVerify, type JWTPayload } from 'jose';
import type { JwtRules } from '../../../api/auth-policy.js';
import type { Clock } from '../../../core/clock.js';
import { JwksUnavailable, type JwksCache } from './jwks.js';
import { keptToken, TokenCache } from './token-cache.js';

export interface VerifiedToken {
  subject: string;
  /** Clock ms after which the entry is verified again. */
  until: number;
  /** What the auth stage keeps on the exchange for this token: made once, shared by every request that carries it. */
  principal: { readonly method: 'jwt'; readonly subject: string };
  /** The token itself (up to MAX_RAW_TOKEN characters; longer ones are found by their SHA-256). */
  token?: string | undefined;
}

/** Why a token was refused: 401 (the token is not good) or 403 (a good token that a rule refuses). */
export class TokenRefused extends Error {
  constructor(
    readonly status: 401 | 403,
    /** For the `error_description` and the metric's reason label: short, not leaky. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface JwtVerifierOptions {
  clock: Clock;
  jwks: JwksCache;
  /** Accepted difference between our clock and the issuer's, in seconds (exp, nbf, iat). */
  clockSkewSeconds: number;
  maxEntries?: number;
  maxEntryMs?: number;
}

export class JwtVerifier {
  /** Rules (their `policyKey`) → token → entry. Bounded in total by `maxEntries` and to 10,000 rule sets. */
  private readonly cache: TokenCache<VerifiedToken>;
  private readonly maxEntryMs: number;
  /** Cold verifications done (tests read it: a cached token is not verified again). */
  verifications = 0;

  constructor(private readonly o: JwtVerifierOptions) {
    this.cache = new TokenCache(o.maxEntries ?? 10_000, 10_000);
    this.maxEntryMs = o.maxEntryMs ?? 5 * 60_000;
  }

  /** The cached result for this token under these rules, if still valid. */
  cached(policyKey: string, token: string): VerifiedToken | undefined {
    return this.cache.get(policyKey, token, this.o.clock.now());
  }

  /** Verifies a token not in the cache; throws TokenRefused. */
  async verify(rules: JwtRules, token: string, policyKey: string): Promise<VerifiedToken> {
    this.verifications++;
    const now = this.o.clock.now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.o.jwks.resolver(rules.jwksUrl), {
        issuer: rules.issuer,
        audience: [...rules.audiences],
        algorithms: [...rules.algorithms],
        clockTolerance: this.o.clockSkewSeconds,
        requiredClaims: ['exp'],
        currentDate: new Date(now),
      }));
    } catch (err) {
      throw refusalOf(err);
    }
    for (const c of rules.requiredClaims) {
      const v = payload[c.name];
      const ok = v !== undefined && (c.value === undefined || v === c.value || String(v) === c.value || (Array.isArray(v) && v.includes(c.value)));
      if (!ok)
        throw new TokenRefused(
          403,
          'required_claim',
          `the token's claim "${c.name}" ${v === undefined ? 'is missing' : `is not "${c.value}"`}, which sluice.dev/auth-jwt-required-claims requires`,
        );
    }
    const exp = (payload.exp as number) * 1000 + this.o.clockSkewSeconds * 1000;
    const subject = typeof payload.sub === 'string' ? payload.sub : '';
    const entry: VerifiedToken = { subject, until: Math.min(exp, now + this.maxEntryMs), principal: { method: 'jwt', subject }, token: keptToken(token) };
    this.cache.set(policyKey, token, entry);
    return entry;
  }

  /** Tokens remembered, over every rule set. */
  get size(): number {
    return this.cache.size;
  }
}

function refusalOf(err: unknown): TokenRefused {
  if (err instanceof JwksUnavailable) return new TokenRefused(401, 'jwks_unavailable', err.message);
  if (err instanceof errors.JWTExpired) return new TokenRefused(401, 'expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    const claim = err.claim;
    if (claim === 'aud') return new TokenRefused(401, 'audience', "the token's audience (aud) is not this service");
    if (claim === 'iss') return new TokenRefused(401, 'issuer', "the token's issuer (iss) is not the one this service trusts");
    if (claim === 'nbf') return new TokenRefused(401, 'not_yet_valid', 'the token is not valid yet (nbf)');
    if (claim === 'exp') return new TokenRefused(401, 'no_expiry', 'the token has no expiry (exp)');
    return new TokenRefused(401, 'claim', `the token's "${claim}" claim is not valid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenRefused(401, 'algorithm', "the token's signing algorithm is not allowed for this service");
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenRefused(401, 'unknown_key', "the token's key id (kid) is not among the issuer's keys");
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenRefused(401, 'signature', "the token's signature does not verify");
  return new TokenRefused(401, 'malformed', 'the token is not a valid signed JWT');
}
