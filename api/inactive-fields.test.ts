import { describe, expect, it } from 'vitest';
import { inactiveFields } from './inactive-fields.js';
import { parseInferenceService } from './inferenceservice.js';

const base = (predictor: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'serving.kserve.io/v1beta1',
  kind: 'InferenceService',
  metadata: { name: 'iris' },
  spec: { predictor: { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://m' }, ...predictor }, ...extra },
});

describe('fields accepted but not active yet', () => {
  it('a spec without them has no warning', () => {
    expect(parseInferenceService(base({ minReplicas: 0, timeout: 30, nodeSelector: { gpu: 'a100' } })).warnings).toEqual([]);
  });

  it('names volumes with why, on every component (batcher, logger and a transformer itself are active)', () => {
    const { warnings } = parseInferenceService(
      base(
        { batcher: { maxBatchSize: 8 }, logger: { url: 'http://logger.example/' }, volumes: [] },
        { transformer: { containers: [{ image: 'kserve/image-transformer:latest' }], logger: { url: 'http://logger.example/' }, volumes: [] } },
      ),
    );
    expect(warnings).toEqual([
      "spec.predictor.volumes is accepted but not active yet: pod volumes are not passed to the replica's pod",
      "spec.transformer.volumes is accepted but not active yet: pod volumes are not passed to the replica's pod",
    ]);
  });

  it('names container fields where the spec wrote them (model, a framework key, containers) and extra containers', () => {
    expect(inactiveFields(base({ model: { modelFormat: { name: 'sklearn' }, ports: [{ containerPort: 5000 }], livenessProbe: {} } })).map((f) => f.path)).toEqual([
      'spec.predictor.model.livenessProbe',
      'spec.predictor.model.ports[0]',
    ]);
    // Ports named for HTTP or gRPC are served by the Kubernetes backend: not listed.
    const named = [{ name: 'h2c', containerPort: 8081 }, { name: 'http', containerPort: 8080 }, { name: 'grpc-infer', containerPort: 9000 }, { name: 'metrics', containerPort: 8082 }];
    expect(inactiveFields(base({ model: { modelFormat: { name: 'sklearn' }, ports: named } })).map((f) => f.path)).toEqual(['spec.predictor.model.ports[3]']);
    const legacy = { apiVersion: 'serving.kserve.io/v1beta1', kind: 'InferenceService', metadata: { name: 'iris' }, spec: { predictor: { sklearn: { storageUri: 'gs://m', workingDir: '/w' } } } };
    expect(parseInferenceService(legacy).warnings).toEqual([expect.stringMatching(/^spec\.predictor\.sklearn\.workingDir is accepted but not active yet: /)]);
    const containers = {
      apiVersion: 'serving.kserve.io/v1beta1',
      kind: 'InferenceService',
      metadata: { name: 'iris' },
      spec: { predictor: { containers: [{ name: 'sidecar', image: 's' }, { name: 'kserve-container', image: 'c', readinessProbe: {} }] } },
    };
    expect(inactiveFields(containers).map((f) => f.path)).toEqual(['spec.predictor.containers[0]', 'spec.predictor.containers[1].readinessProbe']);
  });

  it('the parsed object names the same fields (what status reports)', () => {
    const { object } = parseInferenceService(base({ batcher: { maxBatchSize: 8 }, logger: { url: 'http://logger.example/' }, volumes: [] }));
    expect(inactiveFields(object).map((f) => f.path)).toEqual(['spec.predictor.volumes']);
  });
});
