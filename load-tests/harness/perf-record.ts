import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { processTree } from './process-stats.js';

/**
 * `SLUICE_BENCH_PERF_RECORD=<dir>`: while a measured run of a system named in `SLUICE_BENCH_PERF_SYSTEMS`
 * (comma-separated, default `sluice`) lasts, `perf record -g` samples its process tree at 999 Hz into
 * `<dir>/<system>-<label>.perf.data`, for flame graphs (load-tests/flame.ts). Start Sluice with
 * `SLUICE_BENCH_NODE_FLAGS="--max-semi-space-size=64 --perf-basic-prof"` so perf can name its JavaScript.
 * Off (no env): nothing runs and nothing is measured differently.
 */
export async function startPerfRecord(system: string, pid: number | undefined, label: string): Promise<{ stop(): Promise<void> }> {
  const dir = process.env['SLUICE_BENCH_PERF_RECORD'];
  const systems = (process.env['SLUICE_BENCH_PERF_SYSTEMS'] ?? 'sluice').split(',');
  if (!dir || pid === undefined || !systems.includes(system)) return { stop: async () => undefined };
  const out = join(dir, `${system}-${label}.perf.data`);
  const child = spawn('perf', ['record', '-g', '-F', '999', '-o', out, '-p', processTree(pid).join(',')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => {
    child.once('error', () => resolve());
    child.once('close', () => resolve());
  });
  await new Promise((r) => setTimeout(r, 200));
  return {
    stop: async () => {
      child.kill('SIGINT');
      await exited;
    },
  };
}
