import { describe, expect, it } from 'vitest';
import { availableCores, cgroupCpuQuota } from './cores.js';

function files(map: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    return text;
  };
}

describe('availableCores', () => {
  it('is the CPU affinity without a quota (cgroup v2 "max", or no cgroup files)', () => {
    expect(availableCores({ parallelism: 8, read: files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }) })).toBe(8);
    expect(availableCores({ parallelism: 8, read: files({}) })).toBe(8);
  });

  it('is lowered to a cgroup v2 quota, rounded up, never below 1', () => {
    expect(availableCores({ parallelism: 64, read: files({ '/sys/fs/cgroup/cpu.max': '200000 100000\n' }) })).toBe(2);
    expect(availableCores({ parallelism: 64, read: files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }) })).toBe(2);
    expect(availableCores({ parallelism: 64, read: files({ '/sys/fs/cgroup/cpu.max': '10000 100000\n' }) })).toBe(1);
    // a quota above the affinity does not raise it
    expect(availableCores({ parallelism: 2, read: files({ '/sys/fs/cgroup/cpu.max': '800000 100000\n' }) })).toBe(2);
  });

  it('reads cgroup v1 (quota -1: none)', () => {
    const v1 = (quota: string) => files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': `${quota}\n`, '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' });
    expect(cgroupCpuQuota(v1('300000'))).toBe(3);
    expect(cgroupCpuQuota(v1('-1'))).toBeNull();
    expect(availableCores({ parallelism: 16, read: v1('400000') })).toBe(4);
  });
});
