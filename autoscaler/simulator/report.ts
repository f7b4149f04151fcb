import type { SimReport } from './simulate.js';

/** The report as a few human lines (what `sluice simulate` prints). */
export function formatSimReport(r: SimReport): string {
  const s = r.settings;
  const lines = [
    `${r.label || 'simulation'}: ${r.requests} requests over ${(r.durationSeconds / 60).toFixed(1)} min`,
    `  settings: ${s.metric} target ${s.target.toFixed(2)}/replica (containerConcurrency ${s.containerConcurrency}), stable window ${s.stableWindowSeconds} s, ` +
      `grace ${s.scaleToZeroGraceSeconds} s, retention ${s.scaleToZeroRetentionSeconds} s, keep-warm ${s.keepWarm}, start-up ${s.startupSeconds} s` +
      `${s.startupAware ? ', start-up aware' : ''}${s.gpusPerReplica > 0 ? `, ${s.gpusPerReplica} GPU/replica of ${s.gpuCount ?? '∞'}` : ''}`,
    `  served ${r.served}, rejected ${r.rejected}, cold starts ${r.coldStarts} (scale-ups from zero ${r.scaleFromZero}), held ${r.held}`,
    `  wait in activator p50/p95/p99/max: ${r.waitMs.p50}/${r.waitMs.p95}/${r.waitMs.p99}/${r.waitMs.max} ms (held only: ${r.heldWaitMs.p50}/${r.heldWaitMs.p95}/${r.heldWaitMs.p99} ms)`,
    `  replica-seconds ${r.replicaSeconds}${r.gpuSeconds > 0 ? `, GPU-seconds ${r.gpuSeconds}` : ''}, peak ${r.peakReplicas} replicas, ${r.scaleEvents} scale events, ` +
      `panic ${r.panicSeconds} s${r.gpuCapacityLimitedSeconds > 0 ? `, GPU-capacity limited ${r.gpuCapacityLimitedSeconds} s` : ''}`,
  ];
  return lines.join('\n');
}
