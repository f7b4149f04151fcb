import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Embedded } from '../../cli/embedded.js';
import { cliTarget, demoService, startTestSluice, configFolder } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { sluiceCli as sluice } from '../support/cli.js';

const EXAMPLES = join(SLUICE_ROOT, 'test', 'fixtures', 'kserve-examples');

type Model = { runtime?: string; protocolVersion?: string };
const modelOf = (out: string): Model => (parse(out) as { spec: { predictor: { model: Model } } }).spec.predictor.model;

describe('sluice apply --dry-run (offline)', () => {
  it.each([
    ['sklearn-iris.yaml', 'kserve-sklearnserver', 'v1'],
    ['sklearn-legacy.yaml', 'kserve-sklearnserver', 'v1'],
    ['sklearn-iris-v2.yaml', 'kserve-mlserver', 'v2'],
    ['xgboost-iris.yaml', 'kserve-xgbserver', 'v1'],
    ['lightgbm-iris.yaml', 'kserve-lgbserver', 'v1'],
    ['pmml-iris.yaml', 'kserve-pmmlserver', 'v1'],
    ['tensorflow-flowers.yaml', 'kserve-tensorflow-serving', 'v1'],
    ['torchserve-mnist.yaml', 'kserve-torchserve', 'v1'],
    ['triton-model.yaml', 'kserve-tritonserver', 'v2'],
    ['huggingface-bert.yaml', 'kserve-huggingfaceserver', 'v1'],
  ])('%s resolves to %s %s', async (file, runtime, protocol) => {
    const r = await sluice(['apply', '--dry-run', '-f', join(EXAMPLES, file)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(modelOf(r.stdout)).toMatchObject({ runtime, protocolVersion: protocol });
  });

  it('prints JSON with -o json', async () => {
    const r = await sluice(['apply', '--dry-run', '-o', 'json', '-f', join(EXAMPLES, 'sklearn-iris.yaml')]);
    expect(JSON.parse(r.stdout).spec.predictor.model.runtime).toBe('kserve-sklearnserver');
  });

  it('rejects a bad spec on stderr with the field path and a non-zero exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: bad\nspec:\n  predictor:\n    scaleMetric: qps\n    model:\n      modelFormat:\n        name: sklearn\n',
    );
    const r = await sluice(['apply', '--dry-run', '-f', file]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('spec.predictor.scaleMetric: "qps" is not one of concurrency, rps, cpu, memory');
  });

  it('names what would work for an unknown model format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'unknown.yaml');
    writeFileSync(
      file,
      'apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: odd\nspec:\n  predictor:\n    model:\n      modelFormat:\n        name: caffe\n',
    );
    const r = await sluice(['apply', '--dry-run', '-f', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/spec\.predictor\.model\.modelFormat/);
    expect(r.stderr).toMatch(/sklearn/);
  });

  it('reports a missing file clearly', async () => {
    const r = await sluice(['apply', '--dry-run', '-f', '/nonexistent/x.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read \/nonexistent\/x.yaml: ENOENT/);
  });
});

describe('sluice apply / get / delete against a running server', () => {
  let s: Embedded;
  beforeAll(async () => {
    s = await startTestSluice(configFolder({}));
  });
  afterAll(async () => {
    await s?.close();
  });

  it('creates, lists as a table, prints JSON status, and deletes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'iris.yaml');
    writeFileSync(file, demoService('iris', { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }));
    const applied = await sluice(['apply', '-f', file, ...cliTarget(s)]);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toBe('inferenceservice.serving.kserve.io/iris created\n');
    const again = await sluice(['apply', '-f', file, ...cliTarget(s)]);
    expect(again.stdout).toBe('inferenceservice.serving.kserve.io/iris configured\n');

    // A first revision at initial-scale 0 has never run: it is not ready yet (it starts on the first request).
    const table = await sluice(['get', 'isvc', ...cliTarget(s)]);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+URL\s+READY\s+PREV\s+LATEST\s+LATESTREVISION\s+REPLICAS\s+AGE$/);
    expect(lines[1]).toMatch(/^iris\s+http:\/\/iris\.default\.example\.com:\d+\s+Unknown\s+iris-predictor-00001\s+0\/0\s+\d+s$/);

    const json = await sluice(['get', 'isvc', 'iris', '-o', 'json', ...cliTarget(s)]);
    const obj = JSON.parse(json.stdout);
    expect(obj.status.components.predictor).toMatchObject({ latestCreatedRevision: 'iris-predictor-00001', traffic: [] });
    expect(obj.status.components.predictor.latestReadyRevision).toBeUndefined();
    expect(obj.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'Ready', status: 'Unknown', message: expect.stringMatching(/it starts on the first request \(initial-scale 0\)/) }),
    );
    expect(obj.status.revisions[0]).toMatchObject({ name: 'iris-predictor-00001', desiredReplicas: 0, readyReplicas: 0, trafficPercent: 100 });

    // The first request starts it; once it has been ready the service is Ready with its traffic.
    const res = await fetch(`${s.dataUrl}/v1/models/iris:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
    expect(res.status).toBe(200);
    const after = await sluice(['get', 'isvc', ...cliTarget(s)]);
    expect(after.stdout.trim().split('\n')[1]).toMatch(/^iris\s+http:\/\/iris\.default\.example\.com:\d+\s+True\s+100\s+iris-predictor-00001\s+1\/1\s+\d+s$/);
    const json2 = JSON.parse((await sluice(['get', 'isvc', 'iris', '-o', 'json', ...cliTarget(s)])).stdout);
    expect(json2.status.components.predictor).toMatchObject({
      latestCreatedRevision: 'iris-predictor-00001',
      latestReadyRevision: 'iris-predictor-00001',
      traffic: [{ revisionName: 'iris-predictor-00001', percent: 100, latestRevision: true }],
    });

    const del = await sluice(['delete', 'isvc', 'iris', ...cliTarget(s)]);
    expect(del.stdout).toBe('inferenceservice.serving.kserve.io "iris" deleted\n');
    const gone = await sluice(['get', 'isvc', 'iris', ...cliTarget(s)]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe('error: inferenceservices "iris" not found\n');
  });

  it('prints the server\'s warnings about fields accepted but not active yet on stderr, kubectl style, and exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-'));
    const file = join(dir, 'batched.yaml');
    const predictor = '    minReplicas: 0\n    volumes: []\n';
    writeFileSync(file, demoService('batched', { annotations: { 'autoscaling.knative.dev/initial-scale': '0' }, predictor }));
    const applied = await sluice(['apply', '-f', file, ...cliTarget(s)]);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toBe('inferenceservice.serving.kserve.io/batched created\n');
    expect(applied.stderr).toBe("Warning: spec.predictor.volumes is accepted but not active yet: pod volumes are not passed to the replica's pod\n");
    // Offline, the same warning from the same parser.
    const dry = await sluice(['apply', '--dry-run', '-f', file, '--runtimes', join(SLUICE_ROOT, 'examples', 'runtimes')]);
    expect(dry.code).toBe(0);
    expect(dry.stderr).toBe(applied.stderr);
  });

  it('fails clearly when no server answers', async () => {
    const r = await sluice(['get', 'isvc', '--server', 'http://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the Sluice admin API at http:\/\/127.0.0.1:1/);
  });
});
