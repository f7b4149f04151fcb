import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { builtinCatalogueDir, loadCatalogue, mergeCatalogue } from './runtime-catalogue.js';

const KSERVE_RUNTIMES = [
  'kserve-huggingfaceserver',
  'kserve-lgbserver',
  'kserve-mlserver',
  'kserve-pmmlserver',
  'kserve-sklearnserver',
  'kserve-tensorflow-serving',
  'kserve-torchserve',
  'kserve-tritonserver',
  'kserve-xgbserver',
];

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-catalogue-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const recipe = (name: string, command = 'node'): string => `apiVersion: sluice.dev/v1alpha1
kind: LocalLaunchRecipe
metadata:
  name: ${name}
spec:
  command: ${command}
  args: ["server.js", "--port={{port}}"]
  env: { MODEL: "{{modelName}}" }
  readinessPath: /v2/health/ready
`;

describe('runtime catalogue', () => {
  it('ships every runtime of KServe table as a ClusterServingRuntime', () => {
    const cat = loadCatalogue([builtinCatalogueDir()]);
    expect(cat.clusterRuntimes.map((r) => r.metadata.name).sort()).toEqual(KSERVE_RUNTIMES);
    expect(cat.runtimes).toEqual([]);
    const mlserver = cat.clusterRuntimes.find((r) => r.metadata.name === 'kserve-mlserver');
    expect(new Set(mlserver?.spec.supportedModelFormats.map((f) => f.name))).toEqual(new Set(['sklearn', 'xgboost', 'lightgbm', 'mlflow']));
    expect(mlserver?.spec.protocolVersions).toEqual(['v2']);
    const triton = cat.clusterRuntimes.find((r) => r.metadata.name === 'kserve-tritonserver');
    expect(triton?.spec.containers[0]?.image).toMatch(/^nvcr\.io\/nvidia\/tritonserver:/);
  });

  it('reads sub-folders recursively, including local launch recipes', () => {
    const d = tempDir();
    mkdirSync(join(d, 'local'));
    writeFileSync(join(d, 'local', 'demo.yml'), recipe('demo-runtime'));
    writeFileSync(join(d, 'notes.txt'), 'not yaml');
    const cat = loadCatalogue([d]);
    expect(cat.localRecipes.get('demo-runtime')).toEqual({
      command: 'node',
      args: ['server.js', '--port={{port}}'],
      env: { MODEL: '{{modelName}}' },
      readinessPath: '/v2/health/ready',
      startupTimeoutSeconds: 120,
      stdin: 'pipe',
    });
  });

  it('lets a later folder override an earlier one by name', () => {
    const a = tempDir();
    const b = tempDir();
    writeFileSync(join(a, 'r.yaml'), recipe('demo', 'node'));
    writeFileSync(join(b, 'r.yaml'), recipe('demo', 'python3'));
    expect(loadCatalogue([a, b]).localRecipes.get('demo')?.command).toBe('python3');
    const merged = mergeCatalogue(loadCatalogue([builtinCatalogueDir()]), loadCatalogue([builtinCatalogueDir()]));
    expect(merged.clusterRuntimes).toHaveLength(KSERVE_RUNTIMES.length);
  });

  it('rejects a name defined twice in one folder, naming both files', () => {
    const d = tempDir();
    writeFileSync(join(d, 'a.yaml'), recipe('demo'));
    writeFileSync(join(d, 'b.yaml'), recipe('demo'));
    expect(() => loadCatalogue([d])).toThrow(/LocalLaunchRecipe demo is defined twice: in .*a\.yaml and .*b\.yaml/);
  });

  it('reports a bad document with its file and index', () => {
    const d = tempDir();
    writeFileSync(join(d, 'bad.yaml'), `${recipe('ok')}---\n${recipe('bad').replace('readinessPath: /v2/health/ready', 'readinessPath: health')}`);
    expect(() => loadCatalogue([d])).toThrow(/bad\.yaml: document 1: invalid LocalLaunchRecipe[\s\S]*spec\.readinessPath/);
  });

  it('fails loudly on a missing folder', () => {
    expect(() => loadCatalogue([join(tmpdir(), 'sluice-no-such-dir-42')])).toThrow(/does not exist/);
  });
});
