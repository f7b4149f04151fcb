/**
 * `spec.<component>.batcher`: KServe's batcher fields, with KServe's meanings and the defaults of KServe's agent
 * code (pkg/batcher: 32 rows, 5000 ms, 60 s; KServe's docs once said 500 ms, its code has always used 5000).
 *
 * - `maxBatchSize`: most rows (v1 `instances`, v2 dim 0) in one merged request sent to the runtime.
 * - `maxLatency` (milliseconds): longest a batch waits to fill *while every batch slot is busy*. Unlike KServe's
 *   agent, which always waits, Sluice sends a batch at once when a replica slot is free (Triton's behaviour),
 *   so this is a bound on the extra wait under load, not a fixed delay.
 * - `timeout` (seconds): longest the runtime may take to answer a merged request (KServe accepts it and never
 *   uses it); each caller's own deadline (`spec.<component>.timeout`) still applies.
 */
import type { BatcherSpec } from './inferenceservice.js';

export const BATCHER_DEFAULTS = { maxBatchSize: 32, maxLatencyMs: 5000, timeoutSeconds: 60 } as const;
/** Bounds the schema enforces (field-path errors): a batch larger than this is a mistake, not a tuning. */
export const BATCHER_LIMITS = { maxBatchSize: 4096, maxLatencyMs: 60_000, timeoutSeconds: 3600 } as const;

/** A revision's batching settings, defaults applied. */
export interface BatcherSettings {
  maxBatchSize: number;
  maxLatencyMs: number;
  timeoutSeconds: number;
}

/** The settings of a component's `batcher` (null when it has none: requests are forwarded one by one). */
export function batcherSettings(spec: BatcherSpec | undefined): BatcherSettings | null {
  if (spec === undefined) return null;
  return {
    maxBatchSize: spec.maxBatchSize ?? BATCHER_DEFAULTS.maxBatchSize,
    maxLatencyMs: spec.maxLatency ?? BATCHER_DEFAULTS.maxLatencyMs,
    timeoutSeconds: spec.timeout ?? BATCHER_DEFAULTS.timeoutSeconds,
  };
}
