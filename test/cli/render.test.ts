import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KSERVE_GROUP, servingCrds, SLUICE_GROUP } from '../../deploy/manifests/crd-source.js';
import { ManifestValidator } from '../support/manifest-validator.js';
import { SLUICE_ROOT } from '../support/paths.js';

const run = promisify(execFile);
const EXAMPLES = join(SLUICE_ROOT, 'test', 'fixtures', 'kserve-examples');

describe('sluice render', () => {
  const validator = new ManifestValidator();
  for (const group of [SLUICE_GROUP, KSERVE_GROUP]) for (const c of servingCrds(group)) validator.addCrd(c.object as Record<string, unknown>);

  it.each(readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')))('%s renders objects that validate against the Kubernetes schemas', async (file) => {
    const { stdout } = await run(process.execPath, [join(SLUICE_ROOT, 'dist', 'cli', 'main.js'), 'render', '-f', join(EXAMPLES, file)]);
    const docs = parseAllDocuments(stdout).map((d) => d.toJS() as Record<string, unknown>);
    // A Deployment, a Service and a NetworkPolicy per component (predictor, and a transformer or explainer when the spec has one).
    const KINDS = ['Deployment', 'Service', 'NetworkPolicy'];
    expect(docs.length % 3).toBe(0);
    expect(docs.map((d) => d.kind)).toEqual(docs.map((_, i) => KINDS[i % 3]));
    const issues = [];
    for (const [i, d] of docs.entries()) issues.push(...(await validator.validate(d, `${file}#${i}`)));
    expect(issues).toEqual([]);
    const dep = docs[0] as { metadata: { labels: Record<string, string> }; spec: { template: { spec: { containers: Array<{ image: string }> } } } };
    expect(dep.metadata.labels['serving.kserve.io/inferenceservice']).toBeTruthy();
    expect(dep.spec.template.spec.containers[0]!.image).toMatch(/:/);
  });

  it('applies runtimeVersion to the image tag and carries GPU limits', async () => {
    type Dep = { spec: { template: { spec: { containers: Array<{ image: string; resources: { limits?: Record<string, string> } }> } } } };
    const render = async (file: string): Promise<Dep> =>
      (JSON.parse((await run(process.execPath, [join(SLUICE_ROOT, 'dist', 'cli', 'main.js'), 'render', '-o', 'json', '-f', join(EXAMPLES, file)])).stdout) as { items: Dep[] }).items[0]!;
    expect((await render('triton-torchscript.yaml')).spec.template.spec.containers[0]!.image).toBe('nvcr.io/nvidia/tritonserver:21.08-py3');
    expect((await render('custom-container.yaml')).spec.template.spec.containers[0]!.resources.limits?.['nvidia.com/gpu']).toBe('1');
  });

  it('renders a transformer beside its predictor, pointed at the predictor through the gateway', async () => {
    const { stdout } = await run(process.execPath, [join(SLUICE_ROOT, 'dist', 'cli', 'main.js'), 'render', '-f', join(EXAMPLES, 'torchserve-transformer.yaml')]);
    const docs = parseAllDocuments(stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { template?: { spec: { containers: Array<{ args?: string[] }> } } } });
    expect(docs.filter((d) => d.kind !== 'NetworkPolicy').map((d) => `${d.kind} ${d.metadata.name}`)).toEqual([
      'Deployment torch-transformer-predictor-00001',
      'Service torch-transformer-predictor-00001',
      'Deployment torch-transformer-transformer-00001',
      'Service torch-transformer-transformer-00001',
    ]);
    // The spec's own --model_name stays; KServe's other two arguments are added.
    expect(docs.filter((d) => d.kind === 'Deployment')[1]!.spec.template!.spec.containers[0]!.args).toEqual([
      '--model_name', 'mnist',
      '--predictor_host', 'sluice-gateway.sluice-system.svc/serving/default/torch-transformer-predictor',
      '--http_port', '8080',
    ]);
  });
});
