import type { Route, TrafficTarget } from '../api/route.js';

/**
 * Smooth weighted round-robin over a route's targets: exact over every window of 100 picks for integer
 * percents, no randomness, O(targets) per pick. State lives per route snapshot, so a route change starts fresh.
 */
export class TrafficPicker {
  private readonly state = new WeakMap<Route, number[]>();

  /** The target for a request: the tagged one when a tag is given (even at 0 %), else the weighted choice. */
  pick(route: Route, tag: string | null): TrafficTarget | null {
    const targets = route.targets;
    if (tag !== null) {
      for (const t of targets) if (t.tag === tag) return t;
      return null;
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
