import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ManifestValidator } from '../../test/support/manifest-validator.js';
import { KSERVE_GROUP, servingCrds, SLUICE_GROUP } from './crd-source.js';
import { renderCrdFiles } from './gen-crds.js';

const MANIFESTS = fileURLToPath(new URL('.', import.meta.url));
/** Files under deploy/manifests/ that are not Kubernetes API objects. */
const NOT_API_OBJECTS = new Set(['kustomization.yaml', 'kustomization.yml', 'Chart.yaml', 'values.yaml']);

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'templates' ? [] : yamlFiles(p);
    return /\.ya?ml$/.test(name) && !NOT_API_OBJECTS.has(name) ? [p] : [];
  });
}

function docsOf(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]!.message}`);
      return d.toJS() as unknown;
    })
    .filter((d) => d !== null && d !== undefined);
}

async function validatorWithCrds(): Promise<ManifestValidator> {
  const v = new ManifestValidator();
  for (const group of [SLUICE_GROUP, KSERVE_GROUP]) for (const c of servingCrds(group)) v.addCrd(c.object as Record<string, unknown>);
  return v;
}

describe('deploy/manifests', () => {
  it('every YAML manifest validates against the Kubernetes schemas (and our CRDs for custom resources)', async () => {
    const validator = await validatorWithCrds();
    const files = yamlFiles(MANIFESTS);
    expect(files.length).toBeGreaterThanOrEqual(6);
    const issues = [];
    for (const f of files) {
      const docs = docsOf(f);
      for (const [i, d] of docs.entries()) issues.push(...(await validator.validate(d, `${relative(MANIFESTS, f)}#${i}`)));
    }
    expect(issues).toEqual([]);
  });

  it("every Sluice Deployment runs the image pinned by digest, non-root, on a read-only root, without capabilities, with probes", () => {
    const kustomization = docsOf(join(MANIFESTS, 'base/kustomization.yaml'))[0] as { images: Array<Record<string, string>> };
    expect(kustomization.images).toEqual([{ name: 'sluice', newName: expect.any(String), digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) }]);
    const deployments = yamlFiles(join(MANIFESTS, 'base'))
      .flatMap(docsOf)
      .filter((d): d is { kind: string; metadata: { name: string }; spec: { template: { spec: Record<string, any> } } } => (d as { kind?: string }).kind === 'Deployment');
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['sluice-autoscaler', 'sluice-controller', 'sluice-gateway']);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod['securityContext'], d.metadata.name).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
      const c = pod['containers'][0];
      expect(c.image).toBe('sluice');
      expect(c.securityContext, d.metadata.name).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
      expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    }
    // The gateway keeps accepting while its Service's endpoints drop it, then drains within the grace.
    const gateway = deployments.find((d) => d.metadata.name === 'sluice-gateway')!.spec.template.spec;
    expect(gateway['containers'][0].lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    expect(gateway['terminationGracePeriodSeconds']).toBeGreaterThan(5 + 30); // the sleep and the default shutdownGraceSeconds
  });

  it('the committed CRD YAML is what `npm run gen:crds` produces', () => {
    for (const [rel, text] of renderCrdFiles()) expect(readFileSync(join(MANIFESTS, rel), 'utf8'), rel).toBe(text);
  });

  it('the validator rejects wrong types, missing required fields and unknown fields', async () => {
    const v = await validatorWithCrds();
    const bad = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: { replicas: 'two', selector: { matchLabels: { a: 'b' } }, template: { spec: { containers: [{ name: 'm', image: 'i', imagePullPolicyy: 'Always' }] } } },
    };
    const issues = (await v.validate(bad, 'inline')).map((i) => i.message).join('\n');
    expect(issues).toContain('replicas must be integer');
    expect(issues).toContain('unknown field "spec.template.spec.containers[0].imagePullPolicyy"');
    const noContainers = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: {} };
    expect((await v.validate(noContainers, 'inline')).map((i) => i.message).join()).toContain('spec must have required property containers');
    expect(await v.validate({ apiVersion: 'example.dev/v1', kind: 'Widget', metadata: { name: 'w' } }, 'inline')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('no Kubernetes schema') }),
    ]);
  });

  it("accepts KServe's InferenceService shape and rejects what KServe's schema rejects", async () => {
    const v = await validatorWithCrds();
    for (const group of [SLUICE_GROUP, KSERVE_GROUP]) {
      const isvc = {
        apiVersion: `${group}/v1beta1`,
        kind: 'InferenceService',
        metadata: { name: 'sklearn-iris', annotations: { 'autoscaling.knative.dev/target': '5' } },
        spec: {
          predictor: {
            minReplicas: 0,
            maxReplicas: 3,
            scaleMetric: 'concurrency',
            scaleTarget: 5,
            containerConcurrency: 10,
            timeout: 60,
            canaryTrafficPercent: 10,
            batcher: { maxBatchSize: 32, maxLatency: 500 },
            logger: { mode: 'all', url: 'http://logger.default' },
            nodeSelector: { 'nvidia.com/gpu.present': 'true' },
            tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
            model: {
              modelFormat: { name: 'sklearn' },
              protocolVersion: 'v2',
              runtimeVersion: '0.14.0',
              storageUri: 'gs://kfserving-examples/models/sklearn/1.0/model',
              resources: { requests: { cpu: '100m', memory: '512Mi' }, limits: { 'nvidia.com/gpu': 1 } },
              env: [{ name: 'A', value: 'b' }],
            },
          },
          transformer: { containers: [{ name: 'kserve-container', image: 'example/transformer:1', args: ['--model_name', 'iris'] }] },
        },
        status: {
          url: 'http://sklearn-iris.default.example.com',
          conditions: [{ type: 'Ready', status: 'True' }],
          components: { predictor: { latestReadyRevision: 'sklearn-iris-predictor-00002', traffic: [{ revisionName: 'sklearn-iris-predictor-00002', percent: 90, latestRevision: true }] } },
        },
      };
      expect(await v.validate(isvc, 'inline')).toEqual([]);
      const wrong = structuredClone(isvc);
      wrong.spec.predictor.scaleMetric = 'gpu';
      wrong.spec.predictor.canaryTrafficPercent = 120;
      const messages = (await v.validate(wrong, 'inline')).map((i) => i.message).join('\n');
      expect(messages).toContain('/spec/predictor/scaleMetric must be equal to one of the allowed values');
      expect(messages).toContain('/spec/predictor/canaryTrafficPercent must be <= 100');
      const noPredictor = { ...isvc, spec: {} };
      expect((await v.validate(noPredictor, 'inline')).map((i) => i.message).join()).toContain("must have required property 'predictor'");
    }
  });
});
