/**
 * Runs the shipped traces through the simulator in the scenarios docs/simulator.md reports, prints a Markdown
 * table and writes one SVG per scenario: `npm run build && node dist/load-tests/simulate-traces.js [OUT_DIR]`
 * (OUT_DIR defaults to load-tests/reports/simulator).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AutoscalingSpec } from '../api/revision.js';
import { simulate, type SimOptions, type SimRevision } from '../autoscaler/simulator/simulate.js';
import { renderSimulationSvg } from '../autoscaler/simulator/svg.js';
import { parseTrace } from '../autoscaler/simulator/trace.js';
import { autoscalingSpec } from '../autoscaler/testing/spec.js';

const spec: AutoscalingSpec = autoscalingSpec();
const cpu: SimRevision = { autoscaling: spec, containerConcurrency: 4 };
const gpu: SimRevision = { autoscaling: spec, containerConcurrency: 4, gpus: { 'nvidia.com/gpu': 1 } };
const gpu1: SimRevision = { autoscaling: spec, containerConcurrency: 1, gpus: { 'nvidia.com/gpu': 1 } };
const aware = (r: SimRevision): SimRevision => ({ ...r, settingsOptions: { ...r.settingsOptions, startupAware: true } });
const adaptive = (r: SimRevision): SimRevision => ({ ...r, settingsOptions: { ...r.settingsOptions, keepWarm: 'adaptive' } });

const scenarios: Array<[string, string, SimRevision, SimOptions]> = [
  ['steady-kpa', 'steady', cpu, {}],
  ['steady-startup-aware', 'steady', aware(cpu), {}],
  ['steady-slow-start-kpa', 'steady', cpu, { startupMs: 60_000 }],
  ['steady-slow-start-gpu', 'steady', gpu, { startupMs: 60_000 }],
  ['diurnal-kpa', 'diurnal', cpu, {}],
  ['diurnal-startup-aware', 'diurnal', aware(cpu), {}],
  ['bursty-kpa', 'bursty', cpu, {}],
  ['bursty-startup-aware', 'bursty', aware(cpu), {}],
  ['bursty-gpu-2', 'bursty', gpu, { gpuCount: 2 }],
  ['sparse-fixed', 'sparse', cpu, {}],
  ['sparse-adaptive', 'sparse', adaptive(cpu), {}],
  ['sparse-gpu-fixed', 'sparse', gpu1, { gpuCount: 2 }],
  ['sparse-gpu-adaptive', 'sparse', adaptive(gpu1), { gpuCount: 2 }],
];

const out = process.argv[2] ?? 'load-tests/reports/simulator';
mkdirSync(out, { recursive: true });
console.log('| scenario | requests | cold starts | wait p50/p95/p99 ms | rejected | replica-s | GPU-s | peak | scale events | run ms |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const [name, traceName, rev, opts] of scenarios) {
  const trace = parseTrace(readFileSync(join('load-tests/traces', `${traceName}.csv`), 'utf8'));
  const t0 = performance.now();
  const r = simulate(rev, trace, { ...opts, label: name });
  const ms = performance.now() - t0;
  writeFileSync(join(out, `${name}.svg`), renderSimulationSvg(r));
  console.log(
    `| ${name} | ${r.requests} | ${r.coldStarts} | ${r.waitMs.p50}/${r.waitMs.p95}/${r.waitMs.p99} | ${r.rejected} | ${r.replicaSeconds} | ${r.gpuSeconds} | ${r.peakReplicas} | ${r.scaleEvents} | ${ms.toFixed(0)} |`,
  );
}
