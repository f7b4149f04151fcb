import type { Clock } from '../core/clock.js';
import type { ServeConfig } from '../core/config.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import { resolveTracingSettings } from '../core/tracing-settings.js';
import type { Stage } from '../gateway/stage.js';

/** The gateway's tracing: its stage (composed first, cli/wiring.ts) and the span pipeline's graceful stop. */
export interface GatewayTracing {
  stage: Stage;
  /** Exports the queued spans within `deadlineMs`; never rejects. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** Longest a graceful stop waits for the last spans to be exported. */
export const TRACING_SHUTDOWN_MS = 5_000;

/**
 * Tracing from the settings and the `OTEL_*` variables, or null when it is off. The OpenTelemetry packages are
 * loaded only when it is on, so a gateway without tracing neither loads nor runs any of it.
 */
export async function gatewayTracing(
  cfg: ServeConfig,
  env: NodeJS.ProcessEnv,
  deps: { clock: Clock; logger: Logger; metrics: SluiceMetrics; activeReplicas?: (revisionKey: string) => number },
): Promise<GatewayTracing | null> {
  const settings = resolveTracingSettings(cfg, env);
  if (!settings) return null;
  const [{ startTracing }, { TracingStage }] = await Promise.all([import('../core/tracing.js'), import('../gateway/stages/tracing.js')]);
  const tracing = startTracing(settings, { metrics: deps.metrics, logger: deps.logger });
  return {
    stage: new TracingStage({ tracer: tracing.tracer, propagator: tracing.propagator, clock: deps.clock, activeReplicas: deps.activeReplicas }),
    shutdown: (ms) => tracing.shutdown(ms),
  };
}
