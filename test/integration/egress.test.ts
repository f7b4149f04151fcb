import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { join } from 'node:path';
import { adminCall, startTestSluice } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';

const isvc = (name: string, storageUri: string): Record<string, unknown> => ({
  apiVersion: 'serving.kserve.io/v1beta1',
  kind: 'InferenceService',
  metadata: { name, annotations: { 'autoscaling.knative.dev/initial-scale': '0' } },
  spec: { predictor: { minReplicas: 0, model: { modelFormat: { name: 'sklearn' }, storageUri } } },
});

describe('egressAllow: storage URIs outside the allowlist are refused at apply', () => {
  let s: Embedded;
  beforeAll(async () => {
    s = await startTestSluice(null, { egressAllow: ['s3://models/', '*.example.com'] });
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses a storage URI no entry covers, naming the field and the setting; stores nothing', async () => {
    const path = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';
    const r = await adminCall<{ message: string }>(s, 'POST', path, isvc('leaky', 's3://other-bucket/iris'));
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('spec.predictor.model.storageUri: s3://other-bucket/iris is not allowed by egressAllow (s3://models/, *.example.com)');
    expect((await adminCall(s, 'GET', `${path}/leaky`)).status).toBe(404);
  });

  it('never checks a local model directory (not egress)', async () => {
    const path = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';
    const local = await adminCall(s, 'POST', path, isvc('local', `file://${join(SLUICE_ROOT, 'examples', 'models', 'iris')}`));
    expect(local.status, JSON.stringify(local.body)).toBe(201);
  });
});
