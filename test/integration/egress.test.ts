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

  it('refuses a logger sink and a JWKS URL outside the allowlist, naming each field; a file sink is local', async () => {
    const path = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';
    const local = `file://${join(SLUICE_ROOT, 'examples', 'models', 'iris')}`;
    const logged = isvc('logged', local) as { spec: { predictor: Record<string, unknown> } };
    logged.spec.predictor.logger = { url: 'http://sink.elsewhere.net/events', mode: 'all' };
    const r = await adminCall<{ message: string }>(s, 'POST', path, logged);
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('spec.predictor.logger.url: http://sink.elsewhere.net/events is not allowed by egressAllow');
    logged.spec.predictor.logger = { url: 'http://sink.example.com/events', mode: 'all' };
    expect((await adminCall(s, 'POST', path, logged)).status).toBe(201);
    const fileSink = isvc('file-sink', local) as { metadata: { name: string }; spec: { predictor: Record<string, unknown> } };
    fileSink.spec.predictor.logger = { url: 'file:///tmp/sluice-egress-test.jsonl' };
    expect((await adminCall(s, 'POST', path, fileSink)).status).toBe(201);

    const jwt = isvc('jwt', local) as { metadata: { annotations: Record<string, string> } };
    Object.assign(jwt.metadata.annotations, {
      'sluice.dev/auth': 'jwt',
      'sluice.dev/auth-jwt-issuer': 'https://issuer.elsewhere.net',
      'sluice.dev/auth-jwt-jwks-url': 'https://issuer.elsewhere.net/jwks.json',
    });
    const j = await adminCall<{ message: string }>(s, 'POST', path, jwt);
    expect(j.status).toBe(422);
    expect(j.body.message).toContain('metadata.annotations["sluice.dev/auth-jwt-jwks-url"]: https://issuer.elsewhere.net/jwks.json is not allowed by egressAllow');
  });
});
