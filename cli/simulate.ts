import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatSimReport } from '../autoscaler/simulator/report.js';
import { simulate, type SimOptions, type SimReport, type SimRevision } from '../autoscaler/simulator/simulate.js';
import { renderSimulationSvg } from '../autoscaler/simulator/svg.js';
import { parseTrace } from '../autoscaler/simulator/trace.js';

export interface SimulateCommandArgs {
  /** The predictor revision's settings, from the parsed InferenceService (autoscaling, containerConcurrency, gpus). */
  revision: SimRevision;
  /** CSV trace (docs/simulator.md). */
  tracePath: string;
  /** Where report.json and report.svg go; nothing is written without it. */
  outDir?: string;
  /** `--startup-seconds`: replica start-up time. */
  startupSeconds?: number;
  /** `--gpus`: devices in the simulated inventory, per GPU resource name. */
  gpuCount?: number;
  /** `--tick-phase-ms`: where in the second the autoscaler's decisions fall. */
  tickPhaseMs?: number;
  /** `--compare-keep-warm`: run fixed and adaptive keep-warm side by side. */
  compareKeepWarm?: boolean;
  /** Name shown in the report (the InferenceService name). */
  label?: string;
}

export interface SimulateCommandResult {
  reports: SimReport[];
  /** What the CLI prints. */
  text: string;
  /** Files written. */
  files: string[];
}

/**
 * `sluice simulate -f ISVC.yaml --trace TRACE.csv [--out DIR]` once the YAML is parsed: replays the trace through
 * the real decider and policies and writes `<name>.json` and `<name>.svg` per run into DIR.
 */
export async function runSimulateCommand(args: SimulateCommandArgs): Promise<SimulateCommandResult> {
  const trace = parseTrace(await readFile(args.tracePath, 'utf8'));
  const opts: SimOptions = {};
  if (args.startupSeconds !== undefined) opts.startupMs = args.startupSeconds * 1000;
  if (args.gpuCount !== undefined) opts.gpuCount = args.gpuCount;
  if (args.tickPhaseMs !== undefined) opts.tickPhaseMs = args.tickPhaseMs;
  const label = args.label ?? 'simulation';
  const runs: Array<{ name: string; rev: SimRevision }> = args.compareKeepWarm
    ? (['fixed', 'adaptive'] as const).map((k) => ({
        name: `${label}-keep-warm-${k}`,
        rev: { ...args.revision, settingsOptions: { ...(args.revision.settingsOptions ?? {}), keepWarm: k } },
      }))
    : [{ name: label, rev: args.revision }];
  const reports: SimReport[] = [];
  const files: string[] = [];
  if (args.outDir) await mkdir(args.outDir, { recursive: true });
  for (const run of runs) {
    const report = simulate(run.rev, trace, { ...opts, label: run.name });
    reports.push(report);
    if (args.outDir) {
      const json = join(args.outDir, `${run.name}.json`);
      const svg = join(args.outDir, `${run.name}.svg`);
      await writeFile(json, JSON.stringify(report, null, 2) + '\n');
      await writeFile(svg, renderSimulationSvg(report));
      files.push(json, svg);
    }
  }
  const text = reports.map(formatSimReport).join('\n\n') + (files.length ? `\n\nwrote ${files.join(', ')}` : '');
  return { reports, text, files };
}
