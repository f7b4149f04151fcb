import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../../core/clock.js';
import { KubeAuth, type KubeReviewApi } from './kube-reviews.js';

const USER = { username: 'system:serviceaccount:default:a', uid: 'u', groups: [], extra: {} };

describe('KubeAuth', () => {
  it('a review the API server does not answer fails after timeoutMs with 503 (not cached); past maxInFlight, 503 at once', async () => {
    const clock = new FakeClock(0);
    let answer: ((v: { authenticated: true; user: typeof USER }) => void) | null = null;
    let calls = 0;
    const api: KubeReviewApi = {
      tokenReview: () => {
        calls++;
        return new Promise((r) => (answer = r));
      },
      accessReview: async () => ({ allowed: true, reason: '' }),
    };
    const k = new KubeAuth({ api, clock, group: 'serving.kserve.io', timeoutMs: 5000, maxInFlight: 1 });
    const first = k.check('t1', 'default', 'iris') as Promise<unknown>;
    expect(k.check('t2', 'default', 'iris')).toMatchObject({ ok: false, status: 503, message: 'too many Kubernetes token reviews in flight (limit 1); the request is refused, try again' });
    clock.advance(5000);
    expect(await first).toMatchObject({ ok: false, status: 503, message: 'cannot check the Kubernetes token: the TokenReview to the Kubernetes API server failed (no answer within 5000 ms); the request is refused (fail closed)' });
    // Not cached: the next request asks again, and an answer then is used.
    const again = k.check('t1', 'default', 'iris') as Promise<unknown>;
    expect(calls).toBe(2);
    answer!({ authenticated: true, user: USER });
    const allowed = { ok: true, user: USER, principal: { method: 'kubernetes', subject: USER.username } };
    const d = await again;
    expect(d).toEqual(allowed);
    expect(k.check('t1', 'default', 'iris')).toBe(d); // both cached: synchronous, the same decision object
  });

  it('caches are bounded: past maxEntries the oldest token is reviewed again', async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const api: KubeReviewApi = {
      tokenReview: async () => {
        calls++;
        return { authenticated: true, user: USER };
      },
      accessReview: async () => ({ allowed: true, reason: '' }),
    };
    const k = new KubeAuth({ api, clock, group: 'g', maxEntries: 2 });
    for (const t of ['a', 'b', 'c']) await k.check(t, 'ns', 'm');
    expect(k.sizes).toEqual({ tokens: 2, access: 2 });
    await k.check('a', 'ns', 'm');
    expect(calls).toBe(4);
  });
});

describe('KubeAuth: the last hit', () => {
  it('is served again only while its entry is cached and valid, for the same token and audiences', async () => {
    const clock = new FakeClock(0);
    let calls = 0;
    const api: KubeReviewApi = {
      tokenReview: async (_t, audiences) => {
        calls++;
        return { authenticated: true, user: USER, ...(audiences.length > 0 ? { audiences: [...audiences] } : {}) };
      },
      accessReview: async () => ({ allowed: true, reason: '' }),
    };
    const k = new KubeAuth({ api, clock, group: 'g', maxEntries: 1 });
    await k.check('token-a', 'ns', 'm');
    expect(k.check('token-a', 'ns', 'm')).toMatchObject({ ok: true }); // a hit: now the last one
    expect(k.check(`${'token-'}a`, 'ns', 'm')).toMatchObject({ ok: true }); // an equal string, not the same one
    expect(calls).toBe(1);
    // Other audiences: reviewed on their own (and, with maxEntries 1, that answer takes token-a's place).
    await k.check('token-a', 'ns', 'm', { key: 'kubernetes:x', audiences: ['x'] });
    expect(calls).toBe(2);
    expect(await k.check('token-a', 'ns', 'm')).toMatchObject({ ok: true });
    expect(calls).toBe(3); // token-a's entry for no audiences, the last hit, left with its eviction
    expect(k.check('token-a', 'ns', 'm')).toMatchObject({ ok: true });
    // Expired (the 60 s token TTL): not served, reviewed again.
    clock.advance(60_000);
    expect(await k.check('token-a', 'ns', 'm')).toMatchObject({ ok: true });
    expect(calls).toBe(4);
    expect(k.sizes.tokens).toBe(1);
  });
});

describe('KubeAuth caches per token and service', () => {
  it('a token allowed for one service is reviewed again for another; a long token is cached by its hash', async () => {
    const clock = new FakeClock(0);
    const asked: string[] = [];
    const api: KubeReviewApi = {
      tokenReview: async () => ({ authenticated: true, user: USER }),
      accessReview: async (_u, a) => {
        asked.push(`${a.namespace}/${a.name}`);
        return { allowed: a.name === 'iris', reason: '' };
      },
    };
    const k = new KubeAuth({ api, clock, group: 'g' });
    const long = 'x'.repeat(5000);
    expect(await k.check(long, 'default', 'iris')).toMatchObject({ ok: true });
    expect(await k.check(long, 'default', 'other')).toMatchObject({ ok: false, status: 403 });
    expect(k.check(long, 'default', 'iris')).toMatchObject({ ok: true });
    expect(asked).toEqual(['default/iris', 'default/other']);
    expect(k.tokenReviews).toBe(1);
  });

  it('two tokens ending alike are never taken for each other (not from the cache, not from a shared pending review)', async () => {
    const clock = new FakeClock(0);
    const tail = 'T'.repeat(40);
    const users: Record<string, string> = { [`alice.${tail}`]: 'alice', [`bob.${tail}`]: 'bob' };
    const api: KubeReviewApi = {
      tokenReview: async (t) => (users[t] ? { authenticated: true, user: { ...USER, username: users[t]! } } : { authenticated: false, error: 'invalid bearer token' }),
      accessReview: async (u) => ({ allowed: u.username === 'alice', reason: '' }),
    };
    const k = new KubeAuth({ api, clock, group: 'g' });
    // Concurrent: each its own review.
    const [a, b, m] = await Promise.all([k.check(`alice.${tail}`, 'ns', 'm'), k.check(`bob.${tail}`, 'ns', 'm'), k.check(`mallory.${tail}`, 'ns', 'm')]);
    expect(a).toMatchObject({ ok: true, principal: { subject: 'alice' } });
    expect(b).toMatchObject({ ok: false, status: 403 });
    expect(m).toMatchObject({ ok: false, status: 401 });
    expect(k.tokenReviews).toBe(3);
    // Cached: the last one reviewed holds the slot; the others are reviewed again, never given its answer.
    expect(await k.check(`alice.${tail}`, 'ns', 'm')).toMatchObject({ ok: true, principal: { subject: 'alice' } });
    expect(await k.check(`mallory.${tail}`, 'ns', 'm')).toMatchObject({ ok: false, status: 401 });
    expect(await k.check(`bob.${tail}`, 'ns', 'm')).toMatchObject({ ok: false, status: 403 });
  });
});
