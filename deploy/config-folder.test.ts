import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Logger } from '../core/log.js';
import { controllerHarness } from '../test/support/controller-harness.js';
import { ConfigFolder } from './config-folder.js';
import { builtinCatalogueDir, loadCatalogue } from './runtime-catalogue.js';

function spec(name: string, predictorExtra: string): string {
  return `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${name}
spec:
  predictor:
${predictorExtra}    model:
      modelFormat:
        name: sklearn
      storageUri: gs://m/${name}
`;
}

/** A pino logger whose warnings are kept as their messages. */
function capturingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        const rec = JSON.parse(line) as { level: number; msg: string };
        if (rec.level === 40) warnings.push(rec.msg);
      }
      done();
    },
  });
  return { logger: pino({ level: 'warn' }, sink), warnings };
}

describe('config folder warnings', () => {
  it('logs a file\'s warnings once per load of its content, not on every re-sync', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
    const batched = '    volumes: []\n';
    writeFileSync(join(dir, 'a.yaml'), spec('a', batched));
    const h = controllerHarness();
    const { logger, warnings } = capturingLogger();
    const folder = new ConfigFolder({ dir, controller: h.controller, logger, baseCatalogue: loadCatalogue([builtinCatalogueDir()]) });
    expect(await folder.sync()).toEqual([]);
    const said = "default/a: spec.predictor.volumes is accepted but not active yet: pod volumes are not passed to the replica's pod";
    expect(warnings).toEqual([said]);
    // Another file appears and everything re-syncs: a.yaml has not changed, so nothing is said again.
    writeFileSync(join(dir, 'b.yaml'), spec('b', ''));
    expect(await folder.sync()).toEqual([]);
    expect(await folder.sync()).toEqual([]);
    expect(warnings).toEqual([said]);
    // New content is a new load.
    writeFileSync(join(dir, 'a.yaml'), spec('a', `${batched}    timeout: 30\n`));
    expect(await folder.sync()).toEqual([]);
    expect(warnings).toEqual([said, said]);
  });
});
