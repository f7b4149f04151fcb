import { writeFileSync, unlinkSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Embedded } from '../../cli/embedded.js';
import { adminHeaders, configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0' };
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('admin API (Kubernetes REST shape)', () => {
  let s: Embedded;
  let base: string;
  const call = async (method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; body: Obj }> => {
    const r = await fetch(`${s.adminUrl}${path}`, {
      method,
      headers: adminHeaders(s, body === undefined ? undefined : type),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: r.status, body: (await r.json()) as Obj };
  };

  beforeAll(async () => {
    s = await startTestSluice(configFolder({}));
    base = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';
  });
  afterAll(async () => {
    await s?.close();
  });

  it('answers health and readiness', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('creates (POST, YAML body), refuses a duplicate, gets, lists and replaces', async () => {
    const yaml = demoService('a', { annotations: ZERO });
    const created = await call('POST', base, yaml, 'application/yaml');
    expect(created.status).toBe(201);
    expect(created.body.metadata).toMatchObject({ name: 'a', namespace: 'default', generation: 1 });
    expect(created.body.status.url).toMatch(/^http:\/\/a\.default\.example\.com:\d+$/);
    expect((await call('POST', base, yaml, 'application/yaml')).status).toBe(409);

    const got = await call('GET', `${base}/a`);
    expect(got.body.status.components.predictor.latestCreatedRevision).toBe('a-predictor-00001');
    const list = await call('GET', base);
    expect(list.body.kind).toBe('InferenceServiceList');
    expect(list.body.items.map((i: Obj) => i.metadata.name)).toEqual(['a']);

    // A metadata-only change keeps the revision; a serving change makes a new one.
    const obj = parse(yaml) as Obj;
    obj.metadata.labels = { team: 'ml' };
    const relabelled = await call('PUT', `${base}/a`, obj);
    expect(relabelled.status).toBe(200);
    expect(relabelled.body.status.components.predictor.latestCreatedRevision).toBe('a-predictor-00001');
    obj.spec.predictor.model.env = [{ name: 'SLUICE_DEMO_LABEL', value: 'v2' }];
    const changed = await call('PUT', `${base}/a`, obj);
    expect(changed.body.status.components.predictor.latestCreatedRevision).toBe('a-predictor-00002');
    expect(changed.body.metadata.generation).toBe(2);
  });

  it('warns about fields accepted but not active yet: one Warning header value per field, 201 all the same; none for a plain spec', async () => {
    /** node:http, not fetch: fetch joins repeated headers, and the test is that each warning is a value of its own. */
    const put = (name: string, body: string): Promise<{ status: number; warnings: string[]; body: Obj }> =>
      new Promise((resolve, reject) => {
        const req = httpRequest(`${s.adminUrl}${base}/${name}`, { method: 'PUT', headers: adminHeaders(s, 'application/yaml') }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            const warnings = res.rawHeaders.flatMap((h, i) => (i % 2 === 0 && h.toLowerCase() === 'warning' ? [res.rawHeaders[i + 1]!] : []));
            resolve({ status: res.statusCode ?? 0, warnings, body: JSON.parse(text) as Obj });
          });
        });
        req.on('error', reject);
        req.end(body);
      });
    const predictor = '    minReplicas: 0\n    volumes: []\n    logger:\n      url: http://logger.example/\n';
    const r = await put('batched', demoService('batched', { annotations: ZERO, predictor }));
    expect(r.status).toBe(201);
    // The logger is active now (issue 15): only volumes is left to warn about.
    expect(r.warnings).toEqual([
      `299 - "spec.predictor.volumes is accepted but not active yet: pod volumes are not passed to the replica's pod"`,
    ]);
    // Status says so too, without touching readiness (severity Warning).
    expect(r.body.status.conditions).toContainEqual(
      expect.objectContaining({ type: 'InactiveFields', status: 'True', severity: 'Warning', message: expect.stringContaining('spec.predictor.volumes is accepted but not active yet') }),
    );
    const plain = await put('batched', demoService('batched', { annotations: ZERO }));
    expect(plain.status).toBe(200);
    expect(plain.warnings).toEqual([]);
    expect(plain.body.status.conditions.map((c: Obj) => c.type)).not.toContain('InactiveFields');
  });

  it('rejects a stale resourceVersion with 409', async () => {
    expect((await call('POST', base, demoService('stale', { annotations: ZERO }), 'application/yaml')).status).toBe(201);
    const obj = (await call('GET', `${base}/stale`)).body;
    // Someone else updates it first: the version we read is now stale.
    const newer = (await call('GET', `${base}/stale`)).body;
    newer.metadata.labels = { team: 'ml' };
    expect((await call('PUT', `${base}/stale`, newer)).status).toBe(200);
    const r = await call('PUT', `${base}/stale`, obj);
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({ kind: 'Status', reason: 'Conflict' });
  });

  it('rejects invalid specs with 422 and field paths, keeping the accepted object', async () => {
    expect((await call('POST', base, demoService('kept', { annotations: ZERO }), 'application/yaml')).status).toBe(201);
    const obj = parse(demoService('kept', { annotations: ZERO })) as Obj;
    obj.spec.predictor.scaleMetric = 'qps';
    obj.spec.predictor.bogus = 1;
    const r = await call('PUT', `${base}/kept`, obj);
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe('Invalid');
    const fields = r.body.details.causes.map((c: Obj) => c.field);
    expect(fields).toContain('spec.predictor.scaleMetric');
    expect(fields).toContain('spec.predictor.bogus');
    expect((await call('GET', `${base}/kept`)).body.status.components.predictor.latestCreatedRevision).toBe('kept-predictor-00001');
  });

  it('rejects a body whose name does not match the URL, and bad JSON', async () => {
    const obj = parse(demoService('b', { annotations: ZERO })) as Obj;
    const r = await call('PUT', `${base}/other`, obj);
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/metadata.name "b" does not match the name in the URL "other"/);
    const bad = await call('POST', base, '{nope');
    expect(bad.status).toBe(400);
  });

  it('deletes, and 404s afterwards', async () => {
    expect((await call('POST', base, demoService('deleted', { annotations: ZERO }), 'application/yaml')).status).toBe(201);
    expect((await call('DELETE', `${base}/deleted`)).status).toBe(200);
    expect((await call('GET', `${base}/deleted`)).status).toBe(404);
    expect((await call('DELETE', `${base}/deleted`)).status).toBe(404);
    expect(s.backend.counts('default/deleted-predictor-00001').desired).toBe(0);
  });
});

describe('config folder', () => {
  it('applies new files, re-applies changes, keeps the old spec when a file breaks, and deletes removed files', async () => {
    const dir = configFolder({ 'one.yaml': demoService('one', { annotations: ZERO }) });
    const s = await startTestSluice(dir);
    try {
      expect(s.controller.get('default', 'one')).not.toBeNull();
      writeFileSync(join(dir, 'two.yaml'), demoService('two', { annotations: ZERO }));
      await waitUntil('two to appear', () => s.controller.get('default', 'two') !== null, 10_000, 50);

      writeFileSync(join(dir, 'one.yaml'), demoService('one', { annotations: ZERO, env: { SLUICE_DEMO_LABEL: 'b' } }));
      await waitUntil('one to get revision 2', () => (s.controller.get('default', 'one') as Obj | null)?.status.components.predictor.latestCreatedRevision === 'one-predictor-00002', 10_000, 50);

      writeFileSync(join(dir, 'one.yaml'), 'apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: one}\nspec: {predictor: {scaleMetric: qps}}\n');
      const errors = await s.configFolder!.sync();
      expect(errors.join('\n')).toMatch(/scaleMetric/);
      expect((s.controller.get('default', 'one') as Obj).status.components.predictor.latestCreatedRevision).toBe('one-predictor-00002');

      unlinkSync(join(dir, 'two.yaml'));
      await waitUntil('two to be deleted', () => s.controller.get('default', 'two') === null, 10_000, 50);
    } finally {
      await s.close();
    }
  });
});
