/**
 * `spec.predictor.logger` through the whole embedded stack: the spec's logger reaches the revision, the gateway's
 * logging stage and its delivery (a JSON-lines file sink, embedded mode's local choice), and a graceful stop
 * delivers what is queued.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';

describe('request/response logging from an InferenceService spec (embedded)', () => {
  let sluice: Embedded | undefined;
  afterAll(async () => {
    await sluice?.close();
  });

  it('logs each request to the file the spec names, with KServe\'s event types and the service\'s attributes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-logger-e2e-')), 'iris.jsonl');
    const predictor = `    minReplicas: 1\n    logger:\n      url: file://${file}\n      mode: all\n`;
    sluice = await startTestSluice(configFolder({ 'iris.yaml': demoService('iris', { predictor }) }));
    const body = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });
    const r = await fetch(`${sluice.dataUrl}/v1/models/iris:predict`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'e2e-1' }, body });
    expect(r.status).toBe(200);
    const answer = await r.json();
    // A graceful stop delivers the queued events before it returns.
    await sluice.close();
    sluice = undefined;
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l['type'])).toEqual(['org.kubeflow.serving.inference.request', 'org.kubeflow.serving.inference.response']);
    expect(lines[0]).toMatchObject({ id: 'e2e-1', source: 'iris-predictor-00001', inferenceservicename: 'iris', namespace: 'default', component: 'predictor', data: JSON.parse(body) });
    expect(lines[1]).toMatchObject({ id: 'e2e-1', statuscode: '200', data: answer });
  });
});
