import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runSimulateCommand } from '../../cli/simulate.js';
import { autoscalingSpec } from '../testing/spec.js';
import { simulate, type SimRevision } from './simulate.js';
import { renderSimulationSvg } from './svg.js';
import { SYNTHETIC_TRACES } from './synthetic.js';
import { formatTrace, parseTrace, TraceFormatError, type TraceRequest } from './trace.js';

const TRACES = new URL('../../load-tests/traces/', import.meta.url);
const load = (name: string) => parseTrace(readFileSync(new URL(`${name}.csv`, TRACES), 'utf8'));
const cpu = (over: Partial<SimRevision> = {}): SimRevision => ({ autoscaling: autoscalingSpec(), containerConcurrency: 4, ...over });
const gpu = (over: Partial<SimRevision> = {}): SimRevision => ({
  autoscaling: autoscalingSpec(),
  containerConcurrency: 1,
  gpus: { 'nvidia.com/gpu': 1 },
  ...over,
});

describe('trace format', () => {
  it('parses arrival_ms,duration_ms[,tag] and names the bad line', () => {
    expect(parseTrace('# comment\narrival_ms,duration_ms,tag\n0,100,a\n\n5,20,\n')).toEqual([
      { arrivalMs: 0, durationMs: 100, tag: 'a' },
      { arrivalMs: 5, durationMs: 20 },
    ]);
    expect(() => parseTrace('time,dur\n1,2')).toThrow(/line 1: header/);
    expect(() => parseTrace('arrival_ms,duration_ms\n10,5\n9,5')).toThrow(/line 3: arrival_ms must not decrease/);
    expect(() => parseTrace('arrival_ms,duration_ms\n10,x')).toThrow(TraceFormatError);
  });

  it('ships the committed traces exactly as the seeded generator makes them', () => {
    for (const [name, make] of Object.entries(SYNTHETIC_TRACES)) {
      expect(readFileSync(new URL(`${name}.csv`, TRACES), 'utf8')).toBe(formatTrace(make()));
    }
  });
});

describe('simulate on the shipped traces', () => {
  // The simulation is deterministic: these are its exact results with the default settings (containerConcurrency
  // 4, 10 s start-up). A change here is a change in scaling behaviour: say why in the commit, and update
  // docs/simulator.md's table.
  const expected: Record<string, { coldStarts: number; scaleFromZero: number; replicaSeconds: number; peakReplicas: number; scaleEvents: number; timeline: number; waitMs: { p50: number; p95: number; p99: number; max: number; mean: number } }> = {
    steady: { coldStarts: 100, scaleFromZero: 0, replicaSeconds: 5834.2, peakReplicas: 32, scaleEvents: 12, timeline: 979, waitMs: { p50: 0, p95: 0, p99: 124, max: 9901, mean: 44.9 } },
    diurnal: { coldStarts: 5, scaleFromZero: 0, replicaSeconds: 6091.7, peakReplicas: 4, scaleEvents: 41, timeline: 940, waitMs: { p50: 0, p95: 60, p99: 189, max: 6613, mean: 9.1 } },
    bursty: { coldStarts: 9, scaleFromZero: 0, replicaSeconds: 44658, peakReplicas: 100, scaleEvents: 78, timeline: 979, waitMs: { p50: 1745, p95: 8399, p99: 8874, max: 9720, mean: 2874.1 } },
    sparse: { coldStarts: 196, scaleFromZero: 78, replicaSeconds: 9860, peakReplicas: 2, scaleEvents: 209, timeline: 1110, waitMs: { p50: 8177, p95: 10000, p99: 10000, max: 10000, mean: 7108 } },
  };
  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: serves every request, with the exact cold starts, waits and replica-seconds of the default settings`, () => {
      const trace = load(name);
      const r = simulate(cpu(), trace);
      expect(r.served).toBe(trace.length);
      expect(r.rejected).toBe(0);
      expect(r.gpuSeconds).toBe(0);
      expect({
        coldStarts: r.coldStarts,
        scaleFromZero: r.scaleFromZero,
        replicaSeconds: r.replicaSeconds,
        peakReplicas: r.peakReplicas,
        scaleEvents: r.scaleEvents,
        timeline: r.timeline.length,
        waitMs: r.waitMs,
      }).toEqual(want);
      expect(r.timeline.at(-1)!.desired).toBe(0);
    });
  }

  it('runs the other window algorithm and metric: weighted-exponential windows, rps', () => {
    const diurnal = simulate(cpu({ settingsOptions: { windowAlgorithm: 'weighted-exponential' } }), load('diurnal'));
    expect(diurnal.settings.windowAlgorithm).toBe('weighted-exponential');
    expect(diurnal.rejected).toBe(0);
    expect(diurnal.peakReplicas).toBe(4);
    expect(diurnal.replicaSeconds).toBe(6105.3);
    // 10 rps against 5 rps × 70 % = 3.5 per replica → 3 replicas once settled, 4 when a window runs above 10.5 rps
    const rps = simulate(cpu({ autoscaling: autoscalingSpec({ metric: 'rps', target: 5 }), containerConcurrency: 0 }), load('steady'));
    expect(rps.settings.metric).toBe('rps');
    const settled = rps.timeline.filter((p) => p.t > 300_000 && p.t < 1_700_000).map((p) => p.desired);
    expect(new Set(settled)).toEqual(new Set([3, 4]));
    expect(rps.replicaSeconds).toBe(5718);
  });

  it('decides at a phase of the second when asked, and names a phase out of range', () => {
    const trace = load('sparse');
    const r = simulate(cpu(), trace, { tickPhaseMs: 596 });
    expect(r.timeline[0]!.t).toBe(2_596);
    expect(r.served).toBe(trace.length);
    expect(() => simulate(cpu(), trace, { tickPhaseMs: 2_000 })).toThrow(/tickPhaseMs must be an integer in \[0, 1999\]/);
    expect(() => simulate(cpu(), trace, { tickPhaseMs: -1 })).toThrow(RangeError);
  });

  it('keeps a replica woken from zero until its request is in a window: a fast start-up wakes once per session at any phase', () => {
    // The demo runtime starts in ~118 ms; with decisions at .596 of a second, a request that arrived at .468 is in
    // no window at the next decision. The woken replica must stay anyway (not be removed and woken again).
    const trace = load('sparse');
    const at = (phase: number, over: Partial<SimRevision> = {}) => simulate(cpu(over), trace, { startupMs: 118, tickPhaseMs: phase });
    const [p0, p596] = [at(0), at(596)];
    expect([p596.coldStarts, p596.scaleFromZero, p596.waitMs.max]).toEqual([81, 78, 118]);
    expect([p0.coldStarts, p0.scaleFromZero]).toEqual([81, 78]);
    expect(p596.replicaSeconds).toBe(7719.1);
    const adaptive = at(596, { settingsOptions: { keepWarm: 'adaptive' } });
    expect([adaptive.coldStarts, adaptive.scaleFromZero, adaptive.waitMs.max]).toEqual([15, 80, 118]);
  });

  it('starts a replica on a scale-up while another drains: a draining replica does not count toward the new scale', () => {
    // 7 rps of short requests (2 replicas at 5 rps × 70 %), then two 5-minute requests keep both replicas busy while
    // the rate falls to zero: the scale-down to 1 drains a busy one. When 7 rps return at 200 s, the scale-up to 2
    // must start a replica (ready 10 s later), as the local backend does, not wait for the drain to end at 360 s.
    const trace: TraceRequest[] = [];
    for (let t = 0; t < 60_000; t += 143) trace.push({ arrivalMs: t, durationMs: 50 });
    trace.push({ arrivalMs: 60_000, durationMs: 300_000 }, { arrivalMs: 60_001, durationMs: 300_000 });
    for (let t = 200_000; t < 230_000; t += 143) trace.push({ arrivalMs: t, durationMs: 50 });
    const r = simulate(cpu({ autoscaling: autoscalingSpec({ metric: 'rps', target: 5 }), containerConcurrency: 1 }), trace);
    expect(r.served).toBe(trace.length);
    expect([r.waitMs.max, r.held, r.peakReplicas]).toEqual([14_000, 245, 3]);
  });

  it('is deterministic', () => {
    const trace = load('bursty');
    expect(simulate(cpu(), trace)).toEqual(simulate(cpu(), trace));
  });

  it('steady load settles: the diurnal trace never needs more than 4 replicas and ends at zero', () => {
    const r = simulate(cpu(), load('diurnal'));
    expect(r.peakReplicas).toBe(4);
    expect(r.timeline.at(-1)!.desired).toBe(0);
  });

  it('sparse: adaptive keep-warm has fewer cold starts than the fixed grace period, at a replica-second cost', () => {
    const trace = load('sparse');
    const fixed = simulate(cpu(), trace);
    const adaptive = simulate(cpu({ settingsOptions: { keepWarm: 'adaptive' } }), trace);
    expect([fixed.coldStarts, adaptive.coldStarts]).toEqual([196, 33]);
    expect([fixed.waitMs.p50, adaptive.waitMs.p50]).toEqual([8177, 0]);
    expect([fixed.replicaSeconds, adaptive.replicaSeconds]).toEqual([9860, 17583.6]);
  });

  it('sparse GPU: adaptive keep-warm spends fewer GPU-seconds than the 10-minute GPU retention for about the same cold starts', () => {
    const trace = load('sparse');
    const fixed = simulate(gpu(), trace, { gpuCount: 2 });
    const adaptive = simulate(gpu({ settingsOptions: { keepWarm: 'adaptive' } }), trace, { gpuCount: 2 });
    expect(fixed.settings.scaleToZeroRetentionSeconds).toBe(600);
    expect([fixed.gpuSeconds, adaptive.gpuSeconds]).toEqual([28161.1, 22106.7]);
    expect([fixed.coldStarts, adaptive.coldStarts]).toEqual([16, 17]);
  });

  it('GPU capacity: 2 GPUs, 1 per replica → never a third replica; excess requests wait and are served', () => {
    const r = simulate(gpu({ containerConcurrency: 4 }), load('bursty'), { gpuCount: 2 });
    expect(r.peakReplicas).toBe(2);
    expect(r.gpuCapacityLimitedSeconds).toBe(668);
    expect(r.rejected).toBe(0);
    expect(r.served).toBe(r.requests);
    expect(r.gpuSeconds).toBe(r.replicaSeconds);
    expect(r.gpuSeconds).toBe(3230);
  });

  it('start-up aware: a slow-loading revision under steady load (needs 2) gets a few replicas, not a panic storm', () => {
    const trace = load('steady');
    const kpa = simulate(cpu(), trace, { startupMs: 60_000 });
    const aware = simulate(gpu({ containerConcurrency: 4 }), trace, { startupMs: 60_000 });
    expect([kpa.peakReplicas, aware.peakReplicas]).toEqual([100, 4]);
    expect([kpa.replicaSeconds, aware.replicaSeconds]).toEqual([15094.6, 4532.3]);
  });
});

describe('renderSimulationSvg', () => {
  it('draws demand, desired and ready with the headline numbers', () => {
    const r = simulate(cpu(), load('bursty'), { label: 'bursty <test>' });
    const svg = renderSimulationSvg(r);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('bursty &lt;test&gt;');
    expect(svg).toContain(`${r.coldStarts} cold starts`);
    expect(svg.match(/<path /g)?.length).toBe(4);
    expect(svg).not.toContain('NaN');
  });
});

describe('runSimulateCommand', () => {
  it('writes JSON and SVG per run and prints a summary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-sim-'));
    try {
      const tracePath = join(dir, 'trace.csv');
      await writeFile(tracePath, formatTrace(SYNTHETIC_TRACES.sparse().slice(0, 60)));
      const res = await runSimulateCommand({ revision: cpu(), tracePath, outDir: join(dir, 'out'), compareKeepWarm: true, label: 'iris' });
      expect(res.reports.map((r) => r.settings.keepWarm)).toEqual(['fixed', 'adaptive']);
      expect(res.files.map((f) => f.slice(dir.length))).toEqual([
        '/out/iris-keep-warm-fixed.json',
        '/out/iris-keep-warm-fixed.svg',
        '/out/iris-keep-warm-adaptive.json',
        '/out/iris-keep-warm-adaptive.svg',
      ]);
      expect(JSON.parse(await readFile(res.files[0]!, 'utf8')).requests).toBe(60);
      expect(res.text).toContain('iris-keep-warm-fixed: 60 requests');
      expect(res.reports.map((r) => r.coldStarts)).toEqual([53, 24]);
      expect(res.text).toContain('served 60, rejected 0, cold starts 53 (');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
