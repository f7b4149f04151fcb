import { describe, expect, it } from 'vitest';
import { assignTraffic, type TrafficInput } from './traffic.js';

const base: TrafficInput = {
  latestCreated: 'r1',
  latestReady: 'r1',
  latestRolledout: null,
  previousRolledout: null,
  canaryTrafficPercent: null,
  tagRouting: false,
  traffic: null,
};

describe('assignTraffic (KServe semantics plus the explicit extension)', () => {
  it('a first revision with canaryTrafficPercent set: 100 % first, then (as KServe settles) a split over itself', () => {
    // KServe's first reconcile has no rolled-out revision (blue-green, 100 %); the status then records r1 as rolled
    // out, and the next reconcile writes the canary targets — both resolve to r1. All traffic stays on r1.
    expect(assignTraffic({ ...base, canaryTrafficPercent: 10 })).toEqual({
      traffic: [
        { revisionName: 'r1', percent: 10, tag: null, latestRevision: true },
        { revisionName: 'r1', percent: 90, tag: 'prev', latestRevision: false },
      ],
      latestRolledout: 'r1',
      previousRolledout: null,
      holdReason: null,
    });
  });

  it('canaryTrafficPercent 100 promotes like removing the field', () => {
    const r = assignTraffic({ ...base, latestCreated: 'r2', latestReady: 'r2', latestRolledout: 'r1', canaryTrafficPercent: 100 });
    expect(r).toMatchObject({ traffic: [{ revisionName: 'r2', percent: 100, latestRevision: true }], latestRolledout: 'r2', previousRolledout: 'r1' });
  });

  it('an explicit split replaces the generated targets; latestRevision entries still follow the latest ready', () => {
    const r = assignTraffic({
      ...base,
      latestCreated: 'r3',
      latestReady: 'r2',
      latestRolledout: 'r1',
      traffic: [
        { revisionName: 'r1', percent: 70, tag: 'stable' },
        { latestRevision: true, percent: 30 },
      ],
    });
    expect(r.traffic).toEqual([
      { revisionName: 'r1', percent: 70, tag: 'stable', latestRevision: false },
      { revisionName: 'r2', percent: 30, tag: null, latestRevision: true },
    ]);
    expect(r.holdReason).toBe('revision r3 is not ready; its share stays on r2');
  });

  it('tag-only entries ride on top of the canary split', () => {
    const r = assignTraffic({
      ...base,
      latestCreated: 'r2',
      latestReady: 'r2',
      latestRolledout: 'r1',
      canaryTrafficPercent: 20,
      traffic: [{ revisionName: 'r1', percent: 0, tag: 'pinned' }],
    });
    expect(r.traffic.map((t) => [t.revisionName, t.percent, t.tag])).toEqual([
      ['r2', 20, null],
      ['r1', 80, 'prev'],
      ['r1', 0, 'pinned'],
    ]);
  });

  it('no ready revision: no traffic in status, and a reason', () => {
    expect(assignTraffic({ ...base, latestReady: null })).toEqual({
      traffic: [],
      latestRolledout: null,
      previousRolledout: null,
      holdReason: 'revision r1 is not ready yet; no revision can take traffic',
    });
  });
});
