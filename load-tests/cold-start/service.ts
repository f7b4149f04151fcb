/**
 * The revision the cold-start burst wakes: one InferenceService on the demo runtime, at zero replicas, whose
 * replicas take `startupDelayMs` to become ready and serve `containerConcurrency` requests at a time (more at
 * once would be answered 503 by the replica itself, so a breaker that over-sends shows up as failures).
 */
import { configFolder, demoService } from '../../test/support/embedded.js';

export const BURST_SERVICE = 'burst';
export const BURST_REVISION = 'burst-predictor-00001';
export const BURST_PATH = `/v2/models/${BURST_SERVICE}/infer`;

export interface BurstServiceShape {
  startupDelayMs: number;
  containerConcurrency: number;
  maxReplicas: number;
}

/** Environment of a demo replica with this shape (also used for the direct baseline). */
export function demoEnv(shape: BurstServiceShape): Record<string, string> {
  return {
    SLUICE_DEMO_STARTUP_DELAY_MS: String(shape.startupDelayMs),
    SLUICE_DEMO_MAX_CONCURRENCY: String(shape.containerConcurrency),
    SLUICE_DEMO_REJECT_OVER_CAPACITY: '1',
  };
}

/** A fresh config folder holding the burst service (initial scale 0, minReplicas 0). */
export function burstConfigFolder(shape: BurstServiceShape): string {
  return configFolder({
    'burst.yaml': demoService(BURST_SERVICE, {
      annotations: { 'autoscaling.knative.dev/initial-scale': '0' },
      predictor: `    minReplicas: 0\n    maxReplicas: ${shape.maxReplicas}\n    containerConcurrency: ${shape.containerConcurrency}\n`,
      env: demoEnv(shape),
    }),
  });
}
