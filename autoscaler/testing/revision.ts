import type { AutoscalingSpec, Revision } from '../../api/revision.js';
import { autoscalingSpec } from './spec.js';

/** A minimal revision for autoscaler tests and the simulator. */
export function testRevision(over: { name?: string; containerConcurrency?: number; gpus?: Record<string, number>; autoscaling?: Partial<AutoscalingSpec> } = {}): Revision {
  const name = over.name ?? 'model-predictor-00001';
  return {
    name,
    namespace: 'default',
    service: name.split('-predictor-')[0] ?? name,
    component: 'predictor',
    generation: 1,
    hash: 'test',
    createdAt: new Date(0).toISOString(),
    spec: {},
    modelName: 'model',
    runtimeModelName: 'model',
    runtime: { name: 'test', kind: 'custom', protocolVersion: 'v1' },
    storageUri: null,
    container: { image: 'test', command: [], args: [], env: {}, resources: { requests: {}, limits: {} } },
    containerConcurrency: over.containerConcurrency ?? 10,
    timeoutSeconds: 300,
    autoscaling: autoscalingSpec(over.autoscaling),
    gpus: over.gpus ?? {},
    local: null,
  };
}
