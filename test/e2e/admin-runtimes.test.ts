import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { adminCall, adminHeaders, cliTarget, demoService, startTestSluice } from '../support/embedded.js';
import { sluiceCli as sluice } from '../support/cli.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The demo runtime as a namespaced ServingRuntime named `name`, and its local recipe. */
function demoRuntime(name: string): string {
  return `apiVersion: serving.kserve.io/v1alpha1
kind: ServingRuntime
metadata:
  name: ${name}
spec:
  supportedModelFormats:
    - name: sklearn
      version: "1"
  protocolVersions: [v1, v2]
  containers:
    - name: kserve-container
      image: sluice/demo-runtime:0.1.0
---
apiVersion: sluice.dev/v1alpha1
kind: LocalLaunchRecipe
metadata:
  name: ${name}
spec:
  command: "{{node}}"
  args: ["{{sluiceRoot}}/dist/examples/demo-runtime/main.js", "--port", "{{port}}", "--model-name", "{{modelName}}", "--model-dir", "{{modelDir}}"]
  readinessPath: /v2/health/ready
  startupTimeoutSeconds: 60
`;
}

describe('runtimes through the admin API and sluice apply -f', () => {
  let s: Embedded;
  const call = (method: string, path: string, body?: unknown): Promise<{ status: number; body: Obj }> => adminCall<Obj>(s, method, path, body);
  const CSR = '/apis/serving.kserve.io/v1alpha1/clusterservingruntimes';
  const SR = (ns: string): string => `/apis/serving.kserve.io/v1alpha1/namespaces/${ns}/servingruntimes`;
  const LLR = '/apis/sluice.dev/v1alpha1/locallaunchrecipes';

  beforeAll(async () => {
    // No config folder: the demo runtime exists only if applied.
    s = await startTestSluice(null);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('puts, gets, lists and deletes a ClusterServingRuntime; field errors name the path', async () => {
    const doc = {
      apiVersion: 'serving.kserve.io/v1alpha1',
      kind: 'ClusterServingRuntime',
      metadata: { name: 'rt-a' },
      spec: { supportedModelFormats: [{ name: 'onnx' }], containers: [{ name: 'c', image: 'example/rt:1' }] },
    };
    const created = await call('PUT', `${CSR}/rt-a`, doc);
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: 'rt-a', generation: 1, resourceVersion: expect.any(String), uid: expect.any(String) });
    expect((await call('PUT', `${CSR}/rt-a`, doc)).status).toBe(200);
    expect((await call('GET', `${CSR}/rt-a`)).body.spec.containers[0].image).toBe('example/rt:1');
    const list = await call('GET', `${CSR}?limit=10`);
    expect(list.body.kind).toBe('ClusterServingRuntimeList');
    expect(list.body.items.map((i: Obj) => i.metadata.name)).toEqual(['rt-a']);

    const bad = await call('PUT', `${CSR}/rt-b`, { ...doc, metadata: { name: 'rt-b' }, spec: { containers: [] } });
    expect(bad.status).toBe(422);
    expect(bad.body.details.causes.map((c: Obj) => c.field)).toContain('spec.containers');
    const wrongKind = await call('PUT', `${SR('default')}/rt-a`, doc);
    expect(wrongKind.status).toBe(422);
    expect(wrongKind.body.details.causes[0]).toMatchObject({ field: 'kind', message: expect.stringContaining('must be ServingRuntime') });
    const wrongName = await call('PUT', `${CSR}/other`, doc);
    expect(wrongName.status).toBe(400);

    expect((await call('DELETE', `${CSR}/rt-a`)).status).toBe(200);
    expect((await call('GET', `${CSR}/rt-a`)).status).toBe(404);
    expect((await call('GET', `${LLR}/nothing`)).status).toBe(404);
  });

  it('sluice apply -f creates a ServingRuntime, its recipe and an InferenceService that uses it, in that order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'all.yaml');
    // The service comes first in the file: apply still sends the runtime and recipe before it.
    const svc = demoService('iris-own', { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }).replace('runtime: sluice-demo', 'runtime: own-demo');
    writeFileSync(file, `${svc}---\n${demoRuntime('own-demo')}`);
    const r = await sluice(['apply', '-f', file, ...cliTarget(s)]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      'servingruntime.serving.kserve.io/own-demo created\nlocallaunchrecipe.sluice.dev/own-demo created\ninferenceservice.serving.kserve.io/iris-own created\n',
    );
    expect((await call('GET', `${SR('default')}/own-demo`)).body.spec.containers[0].image).toBe('sluice/demo-runtime:0.1.0');
    expect((await call('GET', `${LLR}/own-demo`)).body.spec.readinessPath).toBe('/v2/health/ready');
    const rev = s.controller.revisionsOf('default', 'iris-own')![0]!;
    expect(rev.runtime).toMatchObject({ name: 'own-demo', kind: 'ServingRuntime' });
    expect(rev.local?.readinessPath).toBe('/v2/health/ready');

    // It serves through the applied recipe.
    const res = await fetch(`${s.dataUrl}/v1/models/iris-own:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
    expect(res.status).toBe(200);

    const again = await sluice(['apply', '-f', file, ...cliTarget(s)]);
    expect(again.stdout).toBe(
      'servingruntime.serving.kserve.io/own-demo configured\nlocallaunchrecipe.sluice.dev/own-demo configured\ninferenceservice.serving.kserve.io/iris-own configured\n',
    );
  }, 60_000);

  it('sluice get pages through a list transparently', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'many.yaml');
    const names = ['g-1', 'g-2', 'g-3', 'g-4', 'g-5'];
    writeFileSync(
      file,
      names
        .map((n) => demoService(n, { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }).replace('runtime: sluice-demo', 'runtime: own-demo').replace('name: ' + n, `name: ${n}\n  namespace: paged`))
        .concat(demoRuntime('own-demo').replace('name: own-demo\n', 'name: own-demo\n  namespace: paged\n'))
        .join('---\n'),
    );
    const applied = await sluice(['apply', '-f', file, ...cliTarget(s)]);
    expect(applied.stderr).toBe('');
    const got = await sluice(['get', 'isvc', '-n', 'paged', '--chunk-size', '2', '-o', 'json', ...cliTarget(s)]);
    expect(got.stderr).toBe('');
    expect((JSON.parse(got.stdout) as Obj).items.map((i: Obj) => i.metadata.name)).toEqual(names);
  }, 60_000);

  it('runtimes applied through the API survive a restart, before the services that use them', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-state-'));
    const first = await startTestSluice(null, { stateDir });
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'kept.yaml');
    const svc = demoService('kept', { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }).replace('runtime: sluice-demo', 'runtime: kept-demo');
    writeFileSync(file, `${demoRuntime('kept-demo')}---\n${svc}`);
    try {
      const r = await sluice(['apply', '-f', file, ...cliTarget(first)]);
      expect(r.stderr).toBe('');
    } finally {
      await first.close();
    }
    const second = await startTestSluice(null, { stateDir });
    try {
      const got = await fetch(`${second.adminUrl}${SR('default')}/kept-demo`, { headers: adminHeaders(second) });
      expect(got.status).toBe(200);
      const doc = (await got.json()) as Obj;
      expect(doc.metadata).toMatchObject({ name: 'kept-demo', namespace: 'default', generation: 1 });
      const recipe = await fetch(`${second.adminUrl}${LLR}/kept-demo`, { headers: adminHeaders(second) });
      expect(recipe.status).toBe(200);
      // The service came back resolved against the restored runtime, and still serves through its recipe.
      expect(second.controller.revisionsOf('default', 'kept')![0]!.runtime.name).toBe('kept-demo');
      const res = await fetch(`${second.dataUrl}/v1/models/kept:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
      expect(res.status).toBe(200);
      // A change after the restart continues the resourceVersion sequence.
      const again = await fetch(`${second.adminUrl}${SR('default')}/kept-demo`, {
        method: 'PUT',
        headers: adminHeaders(second, 'application/json'),
        body: JSON.stringify({ ...doc, metadata: { name: 'kept-demo', labels: { team: 'ml' } } }),
      });
      expect(again.status).toBe(200);
      expect(Number(((await again.json()) as Obj).metadata.resourceVersion)).toBeGreaterThan(Number(doc.metadata.resourceVersion));
    } finally {
      await second.close();
    }
  }, 90_000);
});
