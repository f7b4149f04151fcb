/**
 * The latency report's table (load-tests/report/tables.ts): besides the median p99 over rounds it lists each
 * round's, since one round's tail can be ten times the next one's and the median alone hides that.
 */
import { describe, expect, it } from 'vitest';
import { latencyTable, loadSweepTable, saturationTable, summarise, type LoadPoint } from '../../load-tests/report/tables.js';
import { parseSettings } from '../../load-tests/harness/settings.js';
import type { Measurements, RoundResult } from '../../load-tests/scenarios/measure.js';

const round = (p50: number, p99: number): RoundResult =>
  ({
    throughput: 15_000,
    errors: 0,
    non2xx: 0,
    canaryShare: Number.NaN,
    cpuPerRequestUs: 40,
    syscallsPerRequest: 6,
    machineBusy: 0.5,
    machineSteal: 0,
    latency: { p50, p90: p50, p99, max: p99 },
    serviceLatency: { p50, p90: p50, p99, max: p99 },
  }) as unknown as RoundResult;

describe('latencyTable', () => {
  it('shows the median p99 and every round p99 in round order, and the added p99 from the medians', () => {
    const m: Measurements = new Map([
      ['direct', [round(0.1, 0.7), round(0.1, 0.6), round(0.1, 1.0)]],
      ['sluice', [round(0.17, 4.97), round(0.17, 21.02), round(0.23, 50.71)]],
    ]);
    const table = latencyTable(summarise(m), new Set());
    const sluice = table.split('\n').find((l) => l.startsWith('| sluice |'))!;
    const cells = sluice.split('|').map((c) => c.trim());
    expect(cells[5]).toBe('21.02');
    expect(cells[6]).toBe('4.97 / 21.02 / 50.71');
    expect(cells[8]).toBe('+20.32');
    expect(table).toContain('| p99 ms | p99 by round ms | added p50 ms |');
    // CPU per request to a tenth of a µs: the goal is a ratio to nginx's, and whole µs near 10 hide a fifth of it.
    expect(cells[10]).toBe('40.0');
    expect(cells[12]).toBe('50 %');
  });

  it("gives the whole machine's busy share as the median over rounds, with the hypervisor's share when it took any", () => {
    const at = (busy: number, steal: number): RoundResult => ({ ...round(0.1, 1), machineBusy: busy, machineSteal: steal }) as RoundResult;
    const table = latencyTable(
      summarise(
        new Map([
          ['nginx', [at(0.52, 0), at(0.9, 0), at(0.54, 0.001)]],
          ['sluice', [at(0.66, 0.02), at(0.67, 0.03), at(0.7, 0.04)]],
          ['haproxy', [at(Number.NaN, Number.NaN)]],
        ]),
      ),
      new Set(),
    );
    const busy = (name: string): string => table.split('\n').find((l) => l.startsWith(`| ${name} |`))!.split('|').map((c) => c.trim())[12]!;
    expect(table).toContain('| syscalls/req | machine busy | canary share |');
    expect([busy('nginx'), busy('sluice'), busy('haproxy')]).toEqual(['54 %', '67 % (steal 3 %)', '?']);
    expect(table).toContain('Machine busy: the share of all cores');
  });
});

describe('saturationTable', () => {
  it('gives CPU per request to a tenth of a µs', () => {
    const at = (cpu: number): RoundResult => ({ ...round(0.1, 1), cpuPerRequestUs: cpu }) as RoundResult;
    const table = saturationTable(summarise(new Map([['nginx', [at(9.24)]], ['sluice', [at(18.36)]]])), new Set());
    const cpu = (name: string): string => table.split('\n').find((l) => l.startsWith(`| ${name} |`))!.split('|').map((c) => c.trim())[7]!;
    expect([cpu('nginx'), cpu('sluice')]).toEqual(['9.2', '18.4']);
  });
});

describe('loadSweepTable', () => {
  const at = (load: number, rate: number, direct: number, sluice: number, nginx: number, failures = 0): LoadPoint => ({
    load,
    rate,
    rows: summarise(
      new Map([
        ['direct', [round(0.1, direct)]],
        ['nginx', [round(0.2, nginx)]],
        ['sluice', [{ ...round(0.3, sluice), errors: failures } as RoundResult]],
      ]),
    ),
  });

  it('gives each proxy its added p99 by load and the highest load within the budget', () => {
    const table = loadSweepTable([at(0.3, 5000, 0.5, 2.2, 1.0), at(0.5, 8550, 1.4, 18.3, 2.9)], 2);
    const lines = table.split('\n');
    expect(lines[0]).toBe('| system | 30 % (5,000 req/s) | 50 % (8,550 req/s) | highest load with added p99 ≤ 2 ms |');
    expect(lines.find((l) => l.startsWith('| sluice |'))).toBe('| sluice | +1.70 ms, 40 µs, machine 50 % | +16.90 ms, 40 µs, machine 50 % | 30 % |');
    expect(lines.find((l) => l.startsWith('| nginx |'))).toBe('| nginx | +0.50 ms, 40 µs, machine 50 % | +1.50 ms, 40 µs, machine 50 % | 50 % |');
    expect(table).not.toContain('| direct |');
  });

  it('counts a load within the budget by its own p99, and not when a request failed', () => {
    const table = loadSweepTable([at(0.3, 5000, 0.5, 3.0, 1.0), at(0.4, 6500, 0.5, 1.5, 1.0), at(0.5, 8000, 0.5, 1.0, 1.0, 3)], 2);
    expect(table.split('\n').find((l) => l.startsWith('| sluice |'))).toMatch(/\| 40 % \|$/);
    const failing = loadSweepTable([at(0.3, 5000, 0.5, 1.0, 1.0, 2)], 2);
    expect(failing.split('\n').find((l) => l.startsWith('| sluice |'))).toMatch(/\| none measured \|$/);
  });
});

describe('--loads', () => {
  it('takes fractions of capacity, lowest first, and defaults to half', () => {
    expect(parseSettings(['latency']).loads).toEqual([0.5]);
    expect(parseSettings(['latency', '--loads', '0.5,0.3,0.4,0.3']).loads).toEqual([0.3, 0.4, 0.5]);
  });

  it('refuses a load outside (0, 1] and a load beside --rate, naming them', () => {
    expect(() => parseSettings(['latency', '--loads', '0.3,1.5'])).toThrow(/--loads takes fractions of capacity above 0 and at most 1, got 1.5/);
    expect(() => parseSettings(['latency', '--loads', '0'])).toThrow(/got 0/);
    expect(() => parseSettings(['latency', '--rate', '5000', '--loads', '0.3'])).toThrow(/--rate and --loads both set/);
  });
});
