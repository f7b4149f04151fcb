import { describe, expect, it } from 'vitest';
import { isvcTable, replicasColumn } from './isvc-table.js';

const NOW = Date.parse('2026-01-01T00:10:00Z');
const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';

/** An InferenceService as the admin API returns it after a rollback: traffic on R1, latest R2 at 0 %. */
function rolledBack(): Record<string, unknown> {
  return {
    metadata: { name: 'iris', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    status: {
      url: 'http://iris.default.example.com',
      conditions: [{ type: 'Ready', status: 'True' }],
      components: {
        predictor: {
          latestCreatedRevision: R2,
          traffic: [
            { revisionName: R2, latestRevision: true, percent: 0 },
            { revisionName: R1, latestRevision: false, percent: 100, tag: 'prev', url: 'http://prev-iris-predictor.default.example.com' },
          ],
        },
      },
      revisions: [
        { name: R1, trafficPercent: 100, readyReplicas: 2, desiredReplicas: 3 },
        { name: R2, trafficPercent: 0, readyReplicas: 0, desiredReplicas: 0 },
      ],
    },
  };
}

describe('sluice get isvc table', () => {
  it("shows the replicas of the revisions that take traffic, not the latest revision's", () => {
    const lines = isvcTable([rolledBack()], { now: NOW }).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+URL\s+READY\s+PREV\s+LATEST\s+LATESTREVISION\s+REPLICAS\s+AGE$/);
    expect(lines[1]).toMatch(new RegExp(`^iris\\s+http://iris.default.example.com\\s+True\\s+100\\s+0\\s+${R2}\\s+2/3\\s+10m$`));
  });

  it('sums the replicas of a split, and falls back to the latest revision before any takes traffic', () => {
    const split = [
      { name: R1, trafficPercent: 90, readyReplicas: 2, desiredReplicas: 2 },
      { name: R2, trafficPercent: 10, readyReplicas: 0, desiredReplicas: 1 },
    ];
    expect(replicasColumn(split, R2)).toBe('2/3');
    expect(replicasColumn([{ name: R1, trafficPercent: 0, readyReplicas: 0, desiredReplicas: 1 }], R1)).toBe('0/1');
    expect(replicasColumn([], R1)).toBe('');
  });

  it('-o wide adds the split, the replicas of each revision and the tags', () => {
    const lines = isvcTable([rolledBack()], { now: NOW, wide: true, allNamespaces: true }).trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE\s+NAME\s+.*\s+AGE\s+TRAFFIC\s+REVISIONREPLICAS\s+TAGS$/);
    expect(lines[1]).toMatch(new RegExp(`^default\\s+iris\\s.*\\s10m\\s+${R1}=100%\\s+${R1}=2/3\\s+prev=${R1}$`));
  });
});
