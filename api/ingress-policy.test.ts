import { describe, expect, it } from 'vitest';
import { ValidationError } from '../core/errors.js';
import { parseInferenceService } from './inferenceservice.js';
import { ingressPolicy } from './ingress-policy.js';

const sklearn = { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://bucket/model' } };

function problems(annotations: Record<string, string>, predictorAnnotations?: Record<string, string>): string[] {
  const doc = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'iris', annotations },
    spec: { predictor: { ...sklearn, ...(predictorAnnotations ? { annotations: predictorAnnotations } : {}) } },
  };
  try {
    parseInferenceService(doc);
    return [];
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return err.issues.map((i) => `${i.path}: ${i.message}`);
  }
}

describe('ingress annotations', () => {
  it('refuses bad values, each naming its annotation', () => {
    expect(
      problems({
        'networking.kserve.io/visibility': 'private',
        'sluice.dev/ingress': 'internal-only',
        'sluice.dev/max-request-bytes': '1.5',
        'sluice.dev/rate-limit': '0',
        'sluice.dev/client-rate-limit-burst': '5',
        'sluice.dev/allow-cidrs': '10.0.0.0/8, 300.1.1.1/32',
        'sluice.dev/cors-allow-origins': '*',
        'sluice.dev/cors-allow-credentials': 'true',
        'sluice.dev/cors-max-age': '-1',
        'sluice.dev/egress': 'everything',
      }),
    ).toEqual([
      'metadata.annotations["networking.kserve.io/visibility"]: "private" is not one of cluster-local, external',
      'metadata.annotations["sluice.dev/ingress"]: "internal-only" is not one of all, internal',
      'metadata.annotations["sluice.dev/max-request-bytes"]: expected an integer, got "1.5"',
      'metadata.annotations["sluice.dev/rate-limit"]: expected a number > 0, got "0"',
      'metadata.annotations["sluice.dev/allow-cidrs"]: "300.1.1.1/32" is not a CIDR (address/prefix, e.g. 10.0.0.0/8 or fd00::/8)',
      'metadata.annotations["sluice.dev/cors-max-age"]: must be between 0 and 86400, got -1',
      'metadata.annotations["sluice.dev/egress"]: "everything" is not a CIDR (address/prefix, e.g. 10.0.0.0/8 or fd00::/8)',
      'metadata.annotations["sluice.dev/cors-allow-credentials"]: credentials cannot be allowed for every origin ("*"): list the origins in sluice.dev/cors-allow-origins',
      'metadata.annotations["sluice.dev/client-rate-limit-burst"]: has no effect without sluice.dev/client-rate-limit',
    ]);
  });

  it('checks component-level annotations under their own path', () => {
    expect(problems({}, { 'sluice.dev/cors-allow-origins': 'https://app.example.com/' })).toEqual([
      'spec.predictor.annotations["sluice.dev/cors-allow-origins"]: "https://app.example.com/" is not an origin (scheme://host[:port], no path or trailing slash; did you mean "https://app.example.com"?)',
    ]);
  });

  it('reads a policy: cluster-local from either spelling, buckets with their default burst, CORS defaults', () => {
    expect(ingressPolicy({})).toBeUndefined();
    expect(ingressPolicy({ 'networking.knative.dev/visibility': 'cluster-local' })?.internal).toBe(true);
    expect(ingressPolicy({ 'sluice.dev/ingress': 'all' })?.internal).toBe(false);
    const p = ingressPolicy({
      'sluice.dev/rate-limit': '2.5',
      'sluice.dev/client-rate-limit': '1',
      'sluice.dev/client-rate-limit-burst': '4',
      'sluice.dev/cors-allow-origins': 'https://a.example, https://b.example',
      'sluice.dev/egress': '10.0.0.0/8',
    })!;
    expect(p.rateLimit).toEqual({ rate: 2.5, burst: 3 });
    expect(p.clientRateLimit).toEqual({ rate: 1, burst: 4 });
    expect(p.cors).toEqual({ origins: ['https://a.example', 'https://b.example'], methods: ['GET', 'POST', 'OPTIONS'], headers: ['content-type', 'authorization'], expose: [], maxAgeSeconds: 600, credentials: false });
    expect(p.egressCidrs).toEqual(['10.0.0.0/8']);
    expect(p.maxRequestBytes).toBeNull();
  });
});
