import { describe, expect, it } from 'vitest';
import { describeKernel, environmentMarkdown, referenceWorkMs, type Environment } from '../../load-tests/harness/environment.js';

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
      kernel: '6.18.44; scheduling options on its command line: none',
      pinned: false,
      referenceMs: 81.4,
    };
    const table = environmentMarkdown(before, [1.5, 1, 0.5], 163.6);
    expect(table).toContain('| load average 1/5/15 min, before → after | 0.50 / 0.25 / 0.10 → 1.50 / 1.00 / 0.50 |');
    expect(table).toContain('| kernel | 6.18.44; scheduling options on its command line: none |');
    expect(table).toMatch(/\| reference work \(.*referenceWorkMs.*\), before → after \| 81 ms → 164 ms \|/);
  });

  it('names the kernel and only the boot options that place or wake processes, not those after -- (for init)', () => {
    const cmdline =
      'mitigations=auto console=ttyS0 quiet cpuidle_haltpoll.force=1 haltpoll.guest_halt_poll_ns=0 sched_vcpu_pack=15 isolcpus=1 rdinit=/init -- --sched_fake=1 nohz_full=1\n';
    expect(describeKernel('6.18.44-fc', cmdline)).toBe(
      '6.18.44-fc; scheduling options on its command line: cpuidle_haltpoll.force=1 haltpoll.guest_halt_poll_ns=0 sched_vcpu_pack=15 isolcpus=1',
    );
    expect(describeKernel('6.1.0-13-amd64', 'BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet')).toBe('6.1.0-13-amd64; scheduling options on its command line: none');
    expect(describeKernel('6.1.0', '')).toBe('6.1.0; scheduling options on its command line: none');
  });

  it('referenceWorkMs times real work: a positive number of ms, under a few seconds', () => {
    const ms = referenceWorkMs();
    expect(ms).toBeGreaterThan(1);
    expect(ms).toBeLessThan(5000);
  });
});
