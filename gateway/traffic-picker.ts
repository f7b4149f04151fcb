import type { IncomingHttpHeaders } from 'node:http';
import type { Route, TrafficTarget } from '../api/route.js';

/**
 * The choice of revision per request. Smooth weighted round-robin over a route's targets: exact over every window
 * of 100 picks for integer percents, no randomness, O(targets) per pick. State lives per route snapshot (a
 * WeakMap keyed by the frozen Route), so a route change starts fresh and an old snapshot's state is collected.
 *
 * With stickiness (Route.sticky: a header or cookie), a request carrying the key is hashed onto [0, 100) and
 * mapped through the cumulative percents — the same user lands on the same revision, the population follows the
 * weights, and as a canary's share grows (it is listed first) users already on it stay on it.
 */
export class TrafficPicker {
  private readonly state = new WeakMap<Route, number[]>();

  /** The target for a request: the tagged one when a tag is given (even at 0 %), else the weighted choice. */
  pick(route: Route, tag: string | null, headers?: IncomingHttpHeaders): TrafficTarget | null {
    const targets = route.targets;
    if (tag !== null) {
      for (const t of targets) if (t.tag === tag) return t;
      return null;
    }
    if (route.sticky && headers) {
      const key = stickyKey(route.sticky, headers);
      if (key !== null) return pickByHash(targets, key);
    }
    if (targets.length === 1) return targets[0]!.percent > 0 ? targets[0]! : null;
    let current = this.state.get(route);
    if (!current) {
      current = targets.map(() => 0);
      this.state.set(route, current);
    }
    let total = 0;
    let best = -1;
    for (let i = 0; i < targets.length; i++) {
      const w = targets[i]!.percent;
      if (w <= 0) continue;
      current[i]! += w;
      total += w;
      if (best === -1 || current[i]! > current[best]!) best = i;
    }
    if (best === -1) return null;
    current[best]! -= total;
    return targets[best]!;
  }
}

/** The stickiness key of a request: the header's value, else the cookie's; null when absent. */
export function stickyKey(sticky: NonNullable<Route['sticky']>, headers: IncomingHttpHeaders): string | null {
  if (sticky.header) {
    const v = headers[sticky.header];
    const s = Array.isArray(v) ? v[0] : v;
    if (s) return s;
  }
  if (sticky.cookie && typeof headers.cookie === 'string') {
    for (const part of headers.cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === sticky.cookie) {
        const v = part.slice(eq + 1).trim();
        if (v) return v;
      }
    }
  }
  return null;
}

/** Maps a key onto the targets' cumulative percents (targets at 0 % are never chosen). */
export function pickByHash(targets: readonly TrafficTarget[], key: string): TrafficTarget | null {
  const point = (fnv1a(key) % 10_000) / 100;
  let total = 0;
  for (const t of targets) total += Math.max(0, t.percent);
  if (total <= 0) return null;
  const scaled = (point / 100) * total;
  let acc = 0;
  let last: TrafficTarget | null = null;
  for (const t of targets) {
    if (t.percent <= 0) continue;
    acc += t.percent;
    last = t;
    if (scaled < acc) return t;
  }
  return last;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche so nearby keys spread.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}
