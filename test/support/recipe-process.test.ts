import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LaunchContext } from '../../deploy/backends/local/launch-template.js';
import { IRIS_MODEL_DIR, SLUICE_ROOT } from './paths.js';
import { freePort, launchRecipe, type RecipeDocument } from './recipe-process.js';

const demo = (args: string[]): RecipeDocument => ({
  name: 'sluice-demo',
  spec: {
    command: '{{node}}',
    args,
    env: { DEMO_MODEL: '{{modelName}}' },
    readinessPath: '/v2/health/ready',
    startupTimeoutSeconds: 30,
  },
});

describe('the runtime suite’s recipe launcher renders recipes with the product’s renderer', () => {
  const ctx = async (): Promise<LaunchContext> => ({
    port: await freePort(),
    modelName: 'iris',
    modelDir: IRIS_MODEL_DIR,
    storageUri: `file://${IRIS_MODEL_DIR}`,
    sluiceRoot: SLUICE_ROOT,
    node: process.execPath,
    python: 'python3',
  });

  it('starts the demo runtime from a recipe and waits for its readiness path', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'sluice-recipe-')), 'demo.log');
    const args = ['{{sluiceRoot}}/dist/examples/demo-runtime/main.js', '--port', '{{port}}', '--model-name', '{{modelName}}', '--model-dir', '{{modelDir}}'];
    const replica = await launchRecipe(demo(args), await ctx(), log);
    try {
      const ready = await fetch(`${replica.baseUrl}/v2/models/iris/ready`);
      expect(ready.status).toBe(200);
    } finally {
      await replica.stop(2_000);
    }
  });

  it('refuses a template the product does not know, with the product’s message', async () => {
    const log = join(mkdtempSync(join(tmpdir(), 'sluice-recipe-')), 'demo.log');
    await expect(launchRecipe(demo(['{{modelPath}}']), await ctx(), log)).rejects.toThrow(
      /unknown template \{\{modelPath\}\} in local launch recipe; known: \{\{port\}\}/,
    );
  });
});
