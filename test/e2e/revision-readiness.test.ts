/**
 * Issue 12, item 2, on real processes: a new revision whose replica exits at start never takes traffic; the
 * service keeps answering from the revision that was ready, status names the failure, and requests pinned to
 * the broken revision get a fast 503 with the reason instead of waiting out the 300 s timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { adminHeaders, configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0' };
const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';
const R3 = 'iris-predictor-00003';
const PATH = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The broken spec also tags its own revision `next`, so a request can be pinned to it from the first moment. */
const BROKEN = demoService('iris', {
  annotations: ZERO,
  env: { NODE_OPTIONS: '--no-such-flag', SLUICE_DEMO_LABEL: 'broken' },
  predictor: `    minReplicas: 0\n    traffic:\n      - revisionName: ${R2}\n        tag: next\n        percent: 0\n`,
});

describe('a broken new revision never takes traffic (real replicas)', () => {
  let s: Embedded;
  const status = async (): Promise<Obj> => ((await (await fetch(`${s.adminUrl}${PATH}/iris`, { headers: adminHeaders(s) })).json()) as Obj).status;
  const predict = (headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${s.dataUrl}/v1/models/iris:predict`, { method: 'POST', headers, body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
  const apply = async (yaml: string, method: 'POST' | 'PUT'): Promise<void> => {
    const r = await fetch(`${s.adminUrl}${PATH}${method === 'PUT' ? '/iris' : ''}`, { method, headers: adminHeaders(s, 'application/yaml'), body: yaml });
    expect(r.status).toBeLessThan(300);
  };
  const condition = (st: Obj, type: string): Obj | undefined => (st.conditions as Obj[]).find((c) => c.type === type);

  beforeAll(async () => {
    s = await startTestSluice(configFolder({}));
    await apply(demoService('iris', { annotations: ZERO, env: { SLUICE_DEMO_LABEL: 'good' } }), 'POST');
    // The first request starts the first revision; once it has answered, it is the ready one.
    const r = await predict();
    expect(r.status).toBe(200);
    expect(r.headers.get('x-demo-label')).toBe('good');
    await waitUntil('v1 ready', async () => (await status()).components.predictor.latestReadyRevision === R1, 10_000, 50);
  });
  afterAll(async () => {
    await s?.close();
  });

  it('keeps serving the good revision, fails the broken one with its reason, and answers its tag with a fast 503', async () => {
    await apply(BROKEN, 'PUT');
    // A request pinned to the broken revision right away is held while it tries to start, then released with
    // the 503 the moment the revision is marked failed — not after the 300 s request timeout.
    const t0 = Date.now();
    const pinned = await predict({ 'x-sluice-tag': 'next' });
    const heldMs = Date.now() - t0;
    expect(pinned.status).toBe(503);
    expect(((await pinned.json()) as Obj).error).toMatch(new RegExp(`^revision ${R2} failed to become ready: 3 replicas exited before ready \\(limit 3\\); the last: exited with code 9: .*--no-such-flag`));
    expect(heldMs).toBeLessThan(20_000);

    const st = await waitUntil('the failure in status', async () => {
      const x = await status();
      return condition(x, 'Ready')?.status === 'False' ? x : false;
    }, 20_000, 50);
    for (const type of ['PredictorReady', 'RoutesReady', 'Ready']) {
      expect(condition(st, type)).toMatchObject({ status: 'False', reason: 'RevisionFailed' });
      expect(condition(st, type)!.message).toMatch(new RegExp(`^revision ${R2} failed to become ready: .*--no-such-flag.*; traffic stays on ${R1}$`));
    }
    expect(st.components.predictor).toMatchObject({ latestCreatedRevision: R2, latestReadyRevision: R1, latestRolledoutRevision: R1 });
    expect(st.components.predictor.traffic).toContainEqual(expect.objectContaining({ revisionName: R1, percent: 100 }));

    // Clients of the service never notice: every request is answered by the good revision.
    for (let i = 0; i < 5; i++) {
      const r = await predict();
      expect(r.status).toBe(200);
      expect(r.headers.get('x-demo-label')).toBe('good');
    }
    // Once failed, the tag is answered at once.
    const t1 = Date.now();
    const fast = await predict({ 'x-sluice-tag': 'next' });
    expect(fast.status).toBe(503);
    expect(((await fast.json()) as Obj).error).toMatch(new RegExp(`^revision ${R2} failed to become ready: .*--no-such-flag`));
    expect(Date.now() - t1).toBeLessThan(1_000);
    // It is not retried any more: no replica of it is asked for or running.
    const revs = (await status()).revisions as Obj[];
    expect(revs.find((r) => r.name === R2)).toMatchObject({ ready: false, desiredReplicas: 0, readyReplicas: 0, startingReplicas: 0 });
  });

  it('a fixed spec applied after the failure starts normally and takes the traffic once ready', async () => {
    await apply(demoService('iris', { annotations: ZERO, env: { SLUICE_DEMO_LABEL: 'fixed' } }), 'PUT');
    await waitUntil('the fixed revision ready', async () => (await status()).components.predictor.latestReadyRevision === R3, 20_000, 50);
    const st = await status();
    expect(condition(st, 'Ready')).toMatchObject({ status: 'True' });
    expect(st.components.predictor.traffic).toEqual([expect.objectContaining({ revisionName: R3, percent: 100 })]);
    const r = await predict();
    expect(r.status).toBe(200);
    expect(r.headers.get('x-demo-label')).toBe('fixed');
  });
});
