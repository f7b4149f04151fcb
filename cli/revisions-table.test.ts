import { describe, expect, it } from 'vitest';
import { revisionsTable, rolloutRole } from './revisions-table.js';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';

describe('sluice revisions table', () => {
  it('after a rollback (KServe names R1 both latest and previous rolled-out) R1 is only "rolled-out"', () => {
    const predictor = { latestRolledoutRevision: R1, previousRolledoutRevision: R1 };
    expect(rolloutRole(R1, predictor)).toBe('rolled-out');
    expect(rolloutRole(R2, predictor)).toBe('-');
    expect(rolloutRole(R1, { latestRolledoutRevision: R2, previousRolledoutRevision: R1 })).toBe('previous');
  });

  it('lists newest first; -o wide adds starting replicas, runtime, model and tag URLs', () => {
    const isvc = {
      status: {
        components: {
          predictor: {
            latestRolledoutRevision: R2,
            previousRolledoutRevision: R1,
            traffic: [
              { revisionName: R2, latestRevision: true, percent: 100 },
              { revisionName: R1, latestRevision: false, percent: 0, tag: 'old', url: 'http://old-iris-predictor.default.example.com' },
            ],
          },
        },
        revisions: [
          { name: R1, createdAt: '2026-01-01T00:00:00Z', trafficPercent: 0, tags: ['old'], readyReplicas: 0, desiredReplicas: 0, startingReplicas: 0 },
          { name: R2, createdAt: '2026-01-01T00:09:00Z', trafficPercent: 100, tags: [], readyReplicas: 1, desiredReplicas: 2, startingReplicas: 1 },
        ],
      },
    };
    const plain = revisionsTable(isvc, { now: NOW }).trimEnd().split('\n');
    expect(plain[0]).toMatch(/^REVISION\s+TRAFFIC\s+TAGS\s+READY\s+ROLLOUT\s+CREATED$/);
    expect(plain[1]).toMatch(new RegExp(`^${R2}\\s+100%\\s+-\\s+1/2\\s+rolled-out\\s+60s$`));
    expect(plain[2]).toMatch(new RegExp(`^${R1}\\s+0%\\s+old\\s+0/0\\s+previous\\s+10m$`));
    const specs = [
      { name: R1, runtime: { name: 'sluice-demo' }, storageUri: 'file://./m/v1' },
      { name: R2, runtime: { name: 'sluice-demo' }, storageUri: 'file://./m/v2' },
    ];
    const wide = revisionsTable(isvc, { now: NOW, wide: { revisions: specs } }).trimEnd().split('\n');
    expect(wide[0]).toMatch(/^REVISION\s+.*\s+CREATED\s+STARTING\s+RUNTIME\s+STORAGEURI\s+URL$/);
    expect(wide[1]).toMatch(new RegExp(`^${R2}\\s.*\\s60s\\s+1\\s+sluice-demo\\s+file://./m/v2\\s+-$`));
    expect(wide[2]).toMatch(new RegExp(`^${R1}\\s.*\\s10m\\s+0\\s+sluice-demo\\s+file://./m/v1\\s+http://old-iris-predictor.default.example.com$`));
  });
});
