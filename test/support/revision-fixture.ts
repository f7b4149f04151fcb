import type { Revision } from '../../api/revision.js';
import { autoscalingSpec } from '../../autoscaler/testing/spec.js';

/** A complete Revision (KServe sklearn example) with optional overrides. */
export function sampleRevision(overrides: Partial<Revision> = {}): Revision {
  return {
    name: 'iris-predictor-00001',
    namespace: 'default',
    service: 'iris',
    component: 'predictor',
    generation: 1,
    hash: 'abc123',
    createdAt: '2026-01-01T00:00:00Z',
    spec: { model: { modelFormat: { name: 'sklearn' } }, nodeSelector: { pool: 'cpu' }, labels: { team: 'ml' } },
    modelName: 'iris',
    runtimeModelName: 'iris',
    runtime: { name: 'kserve-sklearnserver', kind: 'ClusterServingRuntime', protocolVersion: 'v2' },
    storageUri: 'gs://kfserving-examples/models/sklearn/1.0/model',
    container: {
      image: 'kserve/sklearnserver:v0.15.2',
      command: [],
      args: ['--model_name=iris', '--model_dir=/mnt/models', '--http_port=8080'],
      env: { PROTOCOL: 'v2' },
      resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { cpu: '1', memory: '2Gi' } },
    },
    containerConcurrency: 4,
    timeoutSeconds: 60,
    autoscaling: autoscalingSpec({ maxReplicas: 3 }),
    gpus: {},
    local: null,
    ...overrides,
  };
}
