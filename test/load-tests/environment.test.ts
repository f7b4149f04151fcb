import { describe, expect, it } from 'vitest';
import { environmentMarkdown, referenceWorkMs, type Environment } from '../../load-tests/harness/environment.js';

describe('the machine table every report starts with', () => {
  it('prints the reference work before and after the scenario, in whole ms', () => {
    const before: Environment = {
      date: '2026-12-06T03:00:00.000Z',
      nproc: 2,
      cpuModel: 'Test CPU',
      memoryGiB: 24,
      loadAverage: [0.5, 0.25, 0.1],
      node: 'v20.20.2',
      nginx: 'nginx/1.22.1',
      haproxy: 'HAProxy 2.6',
      pinned: false,
      referenceMs: 81.4,
    };
    const table = environmentMarkdown(before, [1.5, 1, 0.5], 163.6);
    expect(table).toContain('| load average 1/5/15 min, before → after | 0.50 / 0.25 / 0.10 → 1.50 / 1.00 / 0.50 |');
    expect(table).toMatch(/\| reference work \(.*referenceWorkMs.*\), before → after \| 81 ms → 164 ms \|/);
  });

  it('referenceWorkMs times real work: a positive number of ms, under a few seconds', () => {
    const ms = referenceWorkMs();
    expect(ms).toBeGreaterThan(1);
    expect(ms).toBeLessThan(5000);
  });
});
