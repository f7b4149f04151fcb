/**
 * The bounded cache of checked bearer tokens that the JWT verifier and the Kubernetes token reviews share: per
 * set (the JWT rules, or the audiences a TokenReview asked for), token → what the check said, until `until`.
 *
 * A token is found by its last `TAIL` characters (a JWT's signature) and then compared whole with the one kept:
 * each request's header is a new string whose hash V8 computes over every character on a map lookup, so a map
 * keyed by the whole ~600-1,000-character token hashed all of it per request (SHA-256 of the token, earlier, cost
 * ~1 µs). Tokens longer than `MAX_RAW_TOKEN` are not kept whole and are found by their SHA-256. Most requests in
 * a row carry the same token (one client, or a few behind one proxy): the last hit is checked first, with the
 * one whole comparison a hit needs anyway and no tail slice, hash or lookup.
 *
 * Bounded to `maxEntries` in total (the oldest entry of the fullest set goes first) and to `maxSets` sets (past
 * it, every entry is dropped).
 */
import { hash } from 'node:crypto';

/** Tokens up to this length are kept whole and found by their tail; longer ones are known by their SHA-256. */
export const MAX_RAW_TOKEN = 2048;

/** How many of a token's last characters find it in the cache (then it is compared whole with the one kept). */
const TAIL = 40;

/** What an entry must carry: the token itself (absent when longer than MAX_RAW_TOKEN) and its expiry (clock ms). */
export interface TokenCacheEntry {
  readonly token?: string | undefined;
  readonly until: number;
}

/** The token itself, or its SHA-256 when longer than MAX_RAW_TOKEN: one name per distinct token. */
export function tokenId(token: string): string {
  return token.length <= MAX_RAW_TOKEN ? token : `sha256:${hash('sha256', token, 'base64url')}`;
}

/** The token as an entry keeps it: itself, or nothing when it is too long to keep. */
export function keptToken(token: string): string | undefined {
  return token.length <= MAX_RAW_TOKEN ? token : undefined;
}

/** Where a token is found in a set: its tail, or its SHA-256 when long. */
function keyOf(token: string): string {
  return token.length <= MAX_RAW_TOKEN ? token.slice(-TAIL) : tokenId(token);
}

export class TokenCache<E extends TokenCacheEntry> {
  private readonly sets = new Map<string, Map<string, E>>();
  private count = 0;
  /** The entry of the last hit and its set: always an entry still in the cache (cleared when it leaves). */
  private last: E | null = null;
  private lastSet = '';

  constructor(
    private readonly maxEntries: number,
    private readonly maxSets: number,
  ) {}

  /** The entry for this token in this set if it is still valid at `now`; an expired one is dropped. */
  get(set: string, token: string, now: number): E | undefined {
    const last = this.last;
    if (last !== null && last.token === token && this.lastSet === set && last.until > now) return last;
    const byToken = this.sets.get(set);
    if (byToken === undefined) return undefined;
    const key = keyOf(token);
    const hit = byToken.get(key);
    // (Another token with the same tail is a miss: checked, it then takes the entry's place.)
    if (hit === undefined || (hit.token !== undefined && hit.token !== token)) return undefined;
    if (hit.until <= now) {
      this.drop(byToken, key);
      return undefined;
    }
    // (A token longer than MAX_RAW_TOKEN is not kept whole, so it is never the last hit.)
    if (hit.token !== undefined) {
      this.last = hit;
      this.lastSet = set;
    }
    return hit;
  }

  /** Keeps `entry` for this token in this set, in place of any entry it had. */
  set(set: string, token: string, entry: E): void {
    const key = keyOf(token);
    let byToken = this.sets.get(set);
    if (byToken === undefined) {
      if (this.sets.size >= this.maxSets) {
        this.sets.clear();
        this.count = 0;
        this.last = null;
      }
      byToken = new Map();
      this.sets.set(set, byToken);
    }
    if (byToken.has(key)) this.drop(byToken, key);
    if (this.count >= this.maxEntries) this.evictOne(byToken);
    byToken.set(key, entry);
    this.count++;
  }

  /** Entries kept, over every set. */
  get size(): number {
    return this.count;
  }

  /** Every entry kept. */
  *values(): IterableIterator<E> {
    for (const m of this.sets.values()) yield* m.values();
  }

  /** Drops the oldest entry of the fullest set (usually the only one), else of `prefer`. */
  private evictOne(prefer: Map<string, E>): void {
    let from = prefer;
    for (const m of this.sets.values()) if (m.size > from.size) from = m;
    const oldest = from.keys().next();
    if (oldest.done === true) return;
    this.drop(from, oldest.value);
  }

  private drop(byToken: Map<string, E>, key: string): void {
    if (byToken.get(key) === this.last) this.last = null;
    byToken.delete(key);
    this.count--;
  }
}
