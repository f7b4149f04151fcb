/**
 * A Revision of the iris InferenceService on the demo runtime, with the LocalLaunchRecipe read from
 * examples/runtimes/sluice-demo.yaml, for tests of the local backend and anything above it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { LocalLaunchRecipe, Revision } from '../../api/revision.js';
import { SLUICE_ROOT } from './paths.js';
import { autoscalingSpec } from '../../autoscaler/testing/spec.js';

export function demoLaunchRecipe(): LocalLaunchRecipe {
  const text = readFileSync(join(SLUICE_ROOT, 'examples', 'runtimes', 'sluice-demo.yaml'), 'utf8');
  for (const doc of parseAllDocuments(text)) {
    const obj = doc.toJS() as { kind?: string; spec?: LocalLaunchRecipe };
    if (obj.kind === 'LocalLaunchRecipe' && obj.spec) return obj.spec;
  }
  throw new Error('examples/runtimes/sluice-demo.yaml has no LocalLaunchRecipe');
}

export interface DemoRevisionOptions {
  service?: string;
  generation?: number;
  env?: Record<string, string>;
  storageUri?: string | null;
  containerConcurrency?: number;
  timeoutSeconds?: number;
  recipe?: Partial<LocalLaunchRecipe>;
}

export function demoRevision(o: DemoRevisionOptions = {}): Revision {
  const service = o.service ?? 'iris';
  const generation = o.generation ?? 1;
  return {
    name: `${service}-predictor-${String(generation).padStart(5, '0')}`,
    namespace: 'default',
    service,
    component: 'predictor',
    generation,
    hash: 'test',
    createdAt: new Date(0).toISOString(),
    spec: {},
    modelName: service,
    runtimeModelName: service,
    runtime: { name: 'sluice-demo', kind: 'ClusterServingRuntime', protocolVersion: 'v1' },
    storageUri: o.storageUri === undefined ? 'file://./examples/models/iris' : o.storageUri,
    container: {
      image: 'sluice/demo-runtime:0.1.0',
      command: [],
      args: [],
      env: o.env ?? {},
      resources: { requests: {}, limits: {} },
    },
    containerConcurrency: o.containerConcurrency ?? 0,
    timeoutSeconds: o.timeoutSeconds ?? 30,
    autoscaling: autoscalingSpec({ maxReplicas: 3 }),
    gpus: {},
    local: { ...demoLaunchRecipe(), ...o.recipe },
  };
}
