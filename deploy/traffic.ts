/**
 * Traffic assignment for one component, with KServe's canary semantics. Pure: the same inputs give the same
 * targets and rollout bookkeeping.
 *
 * - No canaryTrafficPercent: the latest ready revision takes 100 % and becomes the latest rolled-out one
 *   (the one it replaces becomes previousRolledout). A latest revision that is not ready yet gets nothing; the
 *   rolled-out one keeps serving.
 * - canaryTrafficPercent P with an earlier rolled-out revision R: latest gets P %, R gets 100 − P % (tag `prev`).
 *   The rolled-out bookkeeping does not move until the canary is promoted (the field removed).
 * - Tags `latest`/`prev` are written only when tag routing is enabled (serving.kserve.io/enable-tag-routing).
 */
export interface TrafficInput {
  /** Revision names of the component, oldest first. */
  latestCreated: string;
  latestCreatedReady: boolean;
  latestRolledout: string | null;
  previousRolledout: string | null;
  canaryTrafficPercent: number | null;
  tagRouting: boolean;
}

export interface TrafficEntry {
  revisionName: string;
  percent: number;
  tag: string | null;
  latestRevision: boolean;
}

export interface TrafficResult {
  traffic: TrafficEntry[];
  latestRolledout: string | null;
  previousRolledout: string | null;
  /** Why the latest revision gets less than asked, when it does. */
  holdReason: string | null;
}

export function assignTraffic(t: TrafficInput): TrafficResult {
  const latest = t.latestCreated;
  const stable = t.latestRolledout;
  const tag = (name: string): string | null => (t.tagRouting ? name : null);

  // First revision, or the latest is the rolled-out one already.
  if (stable === null || stable === latest) {
    return {
      traffic: [{ revisionName: latest, percent: 100, tag: stable !== null && t.tagRouting ? 'latest' : null, latestRevision: true }],
      latestRolledout: t.latestCreatedReady || stable === latest ? latest : stable,
      previousRolledout: t.previousRolledout,
      holdReason: null,
    };
  }

  if (!t.latestCreatedReady) {
    return {
      traffic: [
        { revisionName: stable, percent: 100, tag: tag('prev'), latestRevision: false },
        { revisionName: latest, percent: 0, tag: tag('latest'), latestRevision: true },
      ].filter((e) => e.percent > 0 || e.tag !== null),
      latestRolledout: stable,
      previousRolledout: t.previousRolledout,
      holdReason: `revision ${latest} is not ready; traffic stays on ${stable}`,
    };
  }

  if (t.canaryTrafficPercent === null) {
    // Promote: the latest takes everything and becomes the rolled-out revision.
    return {
      traffic: [{ revisionName: latest, percent: 100, tag: tag('latest'), latestRevision: true }],
      latestRolledout: latest,
      previousRolledout: stable,
      holdReason: null,
    };
  }

  const p = Math.max(0, Math.min(100, t.canaryTrafficPercent));
  return {
    traffic: [
      { revisionName: latest, percent: p, tag: tag('latest'), latestRevision: true },
      { revisionName: stable, percent: 100 - p, tag: tag('prev'), latestRevision: false },
    ],
    latestRolledout: stable,
    previousRolledout: t.previousRolledout ?? stable,
    holdReason: null,
  };
}
