/**
 * JSON Web Key Sets fetched from issuers, kept and refreshed off the request path. jose's own remote set awaits a
 * refresh inside a request once its cache is 10 minutes old and fails every token when that fetch fails; here:
 * - a set is fetched when first needed, then refreshed in the background every `refreshMs`;
 * - stale-if-error: a failed refresh keeps the keys held, for up to `maxStaleMs` after the last good fetch
 *   (default 24 h), so an issuer outage of an hour rejects no token signed by a key already known;
 * - a token with a `kid` not in the set triggers a fetch only if none was tried in the last `cooldownMs` (30 s),
 *   so a flood of made-up kids costs at most one fetch per 30 s per issuer; concurrent fetches are one;
 * - a request waits for a fetch only when no usable keys are held (the first request, or an unknown kid outside
 *   the cooldown); a refresh never blocks a request that has keys.
 * Sets are bounded (`maxSets` URLs, least recently used dropped; `maxBytes` per document).
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import { Counter, type Registry } from 'prom-client';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import type { Logger } from '../../../core/log.js';

/** Fetches a JWKS document; resolves with its parsed JSON or rejects. Injected by tests. */
export type JwksFetch = (url: string, timeoutMs: number, maxBytes: number) => Promise<unknown>;

export interface JwksOptions {
  clock: Clock;
  logger: Logger;
  refreshMs?: number;
  cooldownMs?: number;
  maxStaleMs?: number;
  timeoutMs?: number;
  maxBytes?: number;
  maxSets?: number;
  fetch?: JwksFetch;
  /** Counts fetches by result in `sluice_auth_jwks_fetches_total{result="ok"|"error"}` when given. */
  registry?: Registry;
}

/** No usable key for a token: why, for the 401's description and the log. */
export class JwksUnavailable extends Error {}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

class KeySet {
  resolver: KeyResolver | null = null;
  kids = new Set<string>();
  /** Clock time of the last successful fetch, and of the last attempt. */
  fetchedAt = -Infinity;
  triedAt = -Infinity;
  inflight: Promise<void> | null = null;
  timer: TimerHandle | null = null;
  lastError = '';
  constructor(readonly url: string) {}
}

export class JwksCache {
  private readonly sets = new Map<string, KeySet>();
  private readonly refreshMs: number;
  private readonly cooldownMs: number;
  private readonly maxStaleMs: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxSets: number;
  private readonly fetchJson: JwksFetch;
  /** Fetches started, by URL (tests read it); bounded with the sets. */
  readonly fetches = new Map<string, number>();
  private readonly fetchCount: Counter<'result'> | null;

  constructor(private readonly o: JwksOptions) {
    this.refreshMs = o.refreshMs ?? 300_000;
    this.cooldownMs = o.cooldownMs ?? 30_000;
    this.maxStaleMs = o.maxStaleMs ?? 24 * 3600_000;
    this.timeoutMs = o.timeoutMs ?? 5_000;
    this.maxBytes = o.maxBytes ?? 1024 * 1024;
    this.maxSets = o.maxSets ?? 1_000;
    this.fetchJson = o.fetch ?? fetchJwks;
    this.fetchCount = o.registry
      ? new Counter({ name: 'sluice_auth_jwks_fetches_total', help: 'JWKS fetches by result (error: the keys held were kept)', labelNames: ['result'], registers: [o.registry] })
      : null;
  }

  /** A key resolver for jose's `jwtVerify` for the set at `url`. */
  resolver(url: string): (header: JWSHeaderParameters, token: FlattenedJWSInput) => ReturnType<KeyResolver> {
    return (header, token) => this.key(url, header, token);
  }

  private set(url: string): KeySet {
    let s = this.sets.get(url);
    if (s) {
      this.sets.delete(url); // Map order doubles as recency
      this.sets.set(url, s);
      return s;
    }
    if (this.sets.size >= this.maxSets) {
      const oldest = this.sets.values().next().value as KeySet;
      this.drop(oldest);
    }
    s = new KeySet(url);
    this.sets.set(url, s);
    s.timer = this.o.clock.setInterval(() => void this.refresh(s!).catch(() => {}), this.refreshMs);
    return s;
  }

  private drop(s: KeySet): void {
    if (s.timer) this.o.clock.clearInterval(s.timer);
    this.sets.delete(s.url);
    this.fetches.delete(s.url);
  }

  private async key(url: string, header: JWSHeaderParameters, token: FlattenedJWSInput): ReturnType<KeyResolver> {
    const s = this.set(url);
    const now = this.o.clock.now();
    if (s.resolver === null || now - s.fetchedAt > this.maxStaleMs) {
      // Nothing usable held: fetch now, unless one was tried within the cooldown.
      if (now - s.triedAt >= this.cooldownMs || s.inflight) await this.refresh(s).catch(() => {});
      if (s.resolver === null) throw new JwksUnavailable(`no signing keys could be fetched from the issuer's JWKS (${s.lastError || 'retrying later'})`);
      if (this.o.clock.now() - s.fetchedAt > this.maxStaleMs) throw new JwksUnavailable('the signing keys held are too old and the issuer cannot be reached');
    }
    if (header.kid !== undefined && !s.kids.has(header.kid) && now - s.triedAt >= this.cooldownMs) {
      // A key id not seen yet: the issuer may have rotated; one fetch per cooldown, shared by every request.
      await this.refresh(s).catch(() => {});
    }
    return s.resolver!(header, token);
  }

  /** Fetches the set now (one fetch at a time); on failure the keys held are kept. */
  refresh(s: KeySet): Promise<void> {
    if (s.inflight) return s.inflight;
    s.triedAt = this.o.clock.now();
    this.fetches.set(s.url, (this.fetches.get(s.url) ?? 0) + 1);
    s.inflight = (async () => {
      try {
        const doc = await this.fetchJson(s.url, this.timeoutMs, this.maxBytes);
        const keys = (doc as { keys?: unknown } | null)?.keys;
        if (!Array.isArray(keys)) throw new Error('the document has no "keys" array');
        s.resolver = createLocalJWKSet(doc as JSONWebKeySet);
        s.kids = new Set(keys.map((k: { kid?: unknown }) => (typeof k.kid === 'string' ? k.kid : '')).filter((k) => k !== ''));
        s.fetchedAt = this.o.clock.now();
        s.lastError = '';
        this.fetchCount?.inc({ result: 'ok' });
      } catch (err) {
        s.lastError = err instanceof Error ? err.message : String(err);
        this.fetchCount?.inc({ result: 'error' });
        this.o.logger.warn({ jwks: s.url, err: s.lastError, keysHeld: s.resolver !== null }, 'JWKS fetch failed; keeping the keys held');
        throw err;
      } finally {
        s.inflight = null;
      }
    })();
    return s.inflight;
  }

  close(): void {
    for (const s of [...this.sets.values()]) this.drop(s);
  }
}

/** GET with a timeout and a size cap; any status but 200 is an error. */
export async function fetchJwks(url: string, timeoutMs: number, maxBytes: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error', headers: { accept: 'application/json' } });
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw new Error(`larger than ${maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > maxBytes) throw new Error(`larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}
