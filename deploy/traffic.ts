/**
 * Traffic assignment for one component, with KServe's serverless canary semantics. Pure.
 *
 * KServe does this in two halves that meet through the Knative route: the ksvc reconciler turns
 * `canaryTrafficPercent` and the component status into route targets (a `latestRevision` target, and a `prev`
 * target pinned to the last rolled-out revision), Knative resolves `latestRevision` to the latest *ready*
 * revision, and the status propagation reads the resolved traffic back to move `latestRolledoutRevision` /
 * `previousRolledoutRevision`. Its controller reconciles until nothing changes; we compute that fixed point at
 * once, so the data plane never sees the intermediate routes KServe passes through (e.g. during a rollback).
 *
 * Sluice extension: an explicit `traffic` list (Cloud Run style) replaces the generated targets, and tag-only
 * entries (percent 0) add named targets on top of the canary split. See docs/traffic.md.
 */

/** A route target before resolution: `latestRevision` targets follow the latest ready revision. */
export interface TargetSpec {
  revisionName?: string;
  latestRevision?: boolean;
  percent: number;
  tag?: string;
}

export interface TrafficEntry {
  revisionName: string;
  percent: number;
  tag: string | null;
  latestRevision: boolean;
}

export interface RolloutBookkeeping {
  latestRolledout: string | null;
  previousRolledout: string | null;
}

export interface TrafficInput extends RolloutBookkeeping {
  latestCreated: string;
  /** Newest revision that has become ready, or null. */
  latestReady: string | null;
  canaryTrafficPercent: number | null;
  /** `serving.kserve.io/enable-tag-routing: "true"`: the latest target is tagged `latest`. */
  tagRouting: boolean;
  /** Sluice extension: explicit targets (some percent > 0) or extra tags (all percent 0); null when absent. */
  traffic: readonly TargetSpec[] | null;
}

export interface TrafficResult extends RolloutBookkeeping {
  /** Resolved traffic as KServe reports it in status (empty while no revision is ready). */
  traffic: TrafficEntry[];
  /** Why the latest created revision gets less than the spec asks, when it does. */
  holdReason: string | null;
}

/** True when the explicit list carries the split itself (rather than only extra tags). */
export function isExplicitSplit(traffic: readonly TargetSpec[] | null | undefined): boolean {
  return !!traffic && traffic.some((t) => t.percent > 0);
}

/** The route targets KServe's ksvc reconciler would write (plus Sluice's explicit or tag-only entries). */
export function desiredTargets(t: TrafficInput, latestRolledout: string | null): TargetSpec[] {
  if (isExplicitSplit(t.traffic)) return t.traffic!.map((x) => ({ ...x }));
  const out: TargetSpec[] = [];
  const latestTag = t.tagRouting ? { tag: 'latest' } : {};
  const p = t.canaryTrafficPercent;
  if (p !== null && latestRolledout !== null) {
    out.push({ latestRevision: true, percent: p, ...latestTag });
    if (p < 100) out.push({ revisionName: latestRolledout, latestRevision: false, percent: 100 - p, tag: 'prev' });
  } else {
    out.push({ latestRevision: true, percent: 100, ...latestTag });
  }
  for (const x of t.traffic ?? []) out.push({ ...x });
  return out;
}

/** Knative's resolution: `latestRevision` targets point at the latest ready revision. Null when one cannot. */
export function resolveTargets(targets: readonly TargetSpec[], latestReady: string | null): TrafficEntry[] | null {
  const out: TrafficEntry[] = [];
  for (const x of targets) {
    const latest = x.latestRevision === true;
    const name = latest ? latestReady : x.revisionName ?? null;
    if (name === null) return null;
    out.push({ revisionName: name, percent: x.percent, tag: x.tag ?? null, latestRevision: latest });
  }
  return out;
}

/** KServe's status propagation: moves the rolled-out bookkeeping from the resolved traffic. */
export function propagateRollout(
  prev: RolloutBookkeeping,
  traffic: readonly TrafficEntry[],
  latestReady: string | null,
  latestCreated: string,
): RolloutBookkeeping {
  let { latestRolledout, previousRolledout } = prev;
  const perRevision = new Map<string, number>();
  for (const e of traffic) perRevision.set(e.revisionName, (perRevision.get(e.revisionName) ?? 0) + e.percent);
  for (const e of traffic) {
    if (e.revisionName !== latestReady || !e.latestRevision) continue;
    if (latestRolledout !== latestReady) {
      if (e.percent === 100) {
        previousRolledout = latestRolledout;
        latestRolledout = latestReady;
      }
    } else if (latestReady === latestCreated && e.percent < 100) {
      // Rolled out at 100 % and then rolled back: the split lands on one revision, so step back one.
      if (perRevision.get(e.revisionName) === 100 && previousRolledout !== null) latestRolledout = previousRolledout;
    }
  }
  return { latestRolledout, previousRolledout };
}

/** Reconciles to KServe's fixed point: targets → resolution → status, until the status stops moving. */
export function assignTraffic(t: TrafficInput): TrafficResult {
  let book: RolloutBookkeeping = { latestRolledout: t.latestRolledout, previousRolledout: t.previousRolledout };
  let traffic: TrafficEntry[] = [];
  for (let pass = 0; pass < 8; pass++) {
    const resolved = resolveTargets(desiredTargets(t, book.latestRolledout), t.latestReady);
    traffic = resolved ?? [];
    if (!resolved) break;
    const next = propagateRollout(book, traffic, t.latestReady, t.latestCreated);
    if (next.latestRolledout === book.latestRolledout && next.previousRolledout === book.previousRolledout) break;
    book = next;
  }
  return { traffic, ...book, holdReason: holdReason(t, book.latestRolledout) };
}

function holdReason(t: TrafficInput, latestRolledout: string | null): string | null {
  if (t.latestReady === t.latestCreated) return null;
  const wanted = desiredTargets(t, latestRolledout).some((x) => x.latestRevision === true && x.percent > 0);
  if (!wanted) return null;
  return t.latestReady === null
    ? `revision ${t.latestCreated} is not ready yet; no revision can take traffic`
    : `revision ${t.latestCreated} is not ready; its share stays on ${t.latestReady}`;
}
