/**
 * Data-plane API keys and admin roles through the real embedded stack (real sockets, a real replica process):
 * keys made through the admin API, scoped, refused with 401/403 and the right challenge, revoked at once; a
 * revision at zero stays at zero under a flood of unauthenticated requests; role tokens on the admin API.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { adminCall, configFolder, demoService, startTestSluice } from '../support/embedded.js';

const BODY = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });
const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s', 'sluice.dev/auth': 'api-key' };
const RPS = '    minReplicas: 0\n    scaleMetric: rps\n    scaleTarget: 1\n';

function childPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('data-plane API keys (embedded)', () => {
  let s: Embedded;
  let childrenBefore: number[];

  beforeAll(async () => {
    childrenBefore = childPids();
    const dir = configFolder({
      'keyed.yaml': demoService('keyed', { annotations: { 'sluice.dev/auth': 'api-key' }, predictor: '    minReplicas: 1\n' }),
      'open.yaml': demoService('open', { predictor: '    minReplicas: 0\n', annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }),
      'sleepy.yaml': demoService('sleepy', { annotations: ZERO, predictor: RPS }),
    });
    s = await startTestSluice(dir, { tickSeconds: 0.5 });
  });

  afterAll(async () => {
    await s?.close();
  });

  const predict = (model: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${s.dataUrl}/v1/models/${model}:predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: BODY });

  it('refuses a request without a key with 401 and a Bearer challenge, never a redirect', async () => {
    const r = await predict('keyed');
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer realm="sluice"');
    expect(r.headers.get('location')).toBeNull();
    expect(await r.json()).toEqual({ error: 'default/keyed needs an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"' });
    const bad = await predict('keyed', { authorization: 'Bearer sk-sluice-0000000000000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer realm="sluice", error="invalid_token", error_description="unknown or revoked API key"');
  });

  it('creates a key shown once, lists it without the key, serves with it, refuses it out of scope, and revokes it at once', async () => {
    const created = await adminCall<{ id: string; key: string; scopes: string[] }>(s, 'POST', '/apis/auth.sluice.dev/v1alpha1/apikeys', { name: 'ci', scopes: ['default/keyed'] });
    expect(created.status).toBe(201);
    expect(created.body.key).toMatch(/^sk-sluice-[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$/);
    expect(created.body.scopes).toEqual(['default/keyed']);
    const listed = await adminCall<{ items: Array<Record<string, unknown>> }>(s, 'GET', '/apis/auth.sluice.dev/v1alpha1/apikeys');
    expect(listed.body.items).toEqual([expect.objectContaining({ id: created.body.id, name: 'ci', scopes: ['default/keyed'] })]);
    expect(JSON.stringify(listed.body)).not.toContain(created.body.key);
    // Kept hashed in the state directory: the key itself is nowhere on disk.
    const onDisk = readFileSync(join(s.stateDir, 'api-keys.json'), 'utf8');
    expect(onDisk).toContain(created.body.id);
    expect(onDisk).not.toContain(created.body.key.split('.')[1]);

    const ok = await predict('keyed', { authorization: `Bearer ${created.body.key}` });
    expect(ok.status).toBe(200);
    expect((await predict('keyed', { 'x-api-key': created.body.key })).status).toBe(200);

    // A service with auth none ignores keys; one in another scope refuses this key with 403 naming the rule.
    const other = await adminCall<{ key: string; id: string }>(s, 'POST', '/apis/auth.sluice.dev/v1alpha1/apikeys', { name: 'other', scopes: ['team-b'] });
    const forbidden = await predict('keyed', { 'x-api-key': other.body.key });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toEqual({ error: `API key ${other.body.id} (other) is not scoped to default/keyed (rule: api-key scopes)` });

    const revoked = await adminCall(s, 'DELETE', `/apis/auth.sluice.dev/v1alpha1/apikeys/${created.body.id}`);
    expect(revoked.status).toBe(200);
    const after = await predict('keyed', { authorization: `Bearer ${created.body.key}` });
    expect(after.status).toBe(401);
    expect((await adminCall(s, 'DELETE', `/apis/auth.sluice.dev/v1alpha1/apikeys/${created.body.id}`)).status).toBe(404);
  });

  it('refuses a key request with field paths', async () => {
    const r = await adminCall<{ message: string }>(s, 'POST', '/apis/auth.sluice.dev/v1alpha1/apikeys', { name: 'Bad Name', scopes: ['a/b/c'] });
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('name: expected a DNS label');
    expect(r.body.message).toContain('scopes[0]: expected "*", "<namespace>" or "<namespace>/<service>"');
  });

  it('keeps a revision at zero at zero under a flood of unauthenticated requests: no demand, no replica process', async () => {
    const key = 'default/sleepy-predictor-00001';
    expect(s.backend.counts(key)).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    for (let round = 0; round < 5; round++) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => predict('sleepy', i % 2 ? { 'x-api-key': 'nope' } : {})));
      expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 100 }, () => 401));
    }
    // Demand would reach the autoscaler through the collector's 1 s buckets: wait past them, then decide.
    await new Promise((r) => setTimeout(r, 2500));
    await s.autoscaler.tick();
    await s.autoscaler.tick();
    expect(s.backend.counts(key)).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    expect(s.autoscaler.status(key)).toMatchObject({ desiredReplicas: 0, readyReplicas: 0, startingReplicas: 0 });
    const mine = childPids().filter((p) => !childrenBefore.includes(p));
    // One replica process: `keyed`'s (minReplicas 1); none for `sleepy`.
    expect(mine.length).toBe(1);
    const text = await (await fetch(`${s.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/sluice_auth_denied_total\{service="default\/sleepy",reason="missing"\} 250/);
    expect(text).toMatch(/sluice_auth_denied_total\{service="default\/sleepy",reason="unknown_key"\} 250/);
  });

  it('leaves model readiness probes and the server health endpoints open', async () => {
    expect((await fetch(`${s.dataUrl}/v2/health/ready`)).status).toBe(200);
    expect((await fetch(`${s.dataUrl}/v1/models/keyed`)).status).toBe(200);
    expect((await fetch(`${s.dataUrl}/v2/models/sleepy/ready`)).status).not.toBe(401);
  });
});

describe('admin API roles (embedded)', () => {
  let s: Embedded;
  beforeAll(async () => {
    s = await startTestSluice(configFolder({ 'iris.yaml': demoService('iris', { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }) }));
  });
  afterAll(async () => {
    await s?.close();
  });

  const asToken = (token: string, method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${s.adminUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('a viewer reads but cannot apply, change traffic or see keys; an operator changes traffic; revoked tokens stop at once', async () => {
    const viewer = await adminCall<{ token: string; id: string; role: string }>(s, 'POST', '/apis/auth.sluice.dev/v1alpha1/tokens', { name: 'dash', role: 'viewer' });
    expect(viewer.status).toBe(201);
    expect(viewer.body.role).toBe('viewer');
    const operator = await adminCall<{ token: string }>(s, 'POST', '/apis/auth.sluice.dev/v1alpha1/tokens', { name: 'oncall', role: 'operator' });
    const isvcs = '/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices';

    expect((await asToken(viewer.body.token, 'GET', isvcs)).status).toBe(200);
    const current = (await (await asToken(viewer.body.token, 'GET', `${isvcs}/iris`)).json()) as Record<string, unknown>;
    const put = await asToken(viewer.body.token, 'PUT', `${isvcs}/iris`, current);
    expect(put.status).toBe(403);
    expect(((await put.json()) as { message: string }).message).toBe('role "viewer" (token:dash) may not apply: that needs the "admin" role');
    const traffic = await asToken(viewer.body.token, 'POST', `${isvcs}/iris/traffic`, { op: 'to-latest' });
    expect(traffic.status).toBe(403);
    expect(((await traffic.json()) as { message: string }).message).toContain('may not change traffic');
    expect((await asToken(viewer.body.token, 'GET', '/apis/auth.sluice.dev/v1alpha1/apikeys')).status).toBe(403);
    expect((await asToken(viewer.body.token, 'DELETE', `${isvcs}/iris`)).status).toBe(403);

    const opTraffic = await asToken(operator.body.token, 'POST', `${isvcs}/iris/traffic`, { op: 'to-latest' });
    expect(opTraffic.status).not.toBe(403);
    expect((await asToken(operator.body.token, 'PUT', `${isvcs}/iris`, current)).status).toBe(403);

    const list = await adminCall<{ items: Array<Record<string, unknown>> }>(s, 'GET', '/apis/auth.sluice.dev/v1alpha1/tokens');
    expect(list.body.items.map((i) => [i.name, i.role])).toEqual([
      ['dash', 'viewer'],
      ['oncall', 'operator'],
    ]);
    expect(JSON.stringify(list.body)).not.toContain(viewer.body.token);
    expect((await adminCall(s, 'DELETE', `/apis/auth.sluice.dev/v1alpha1/tokens/${viewer.body.id}`)).status).toBe(200);
    expect((await asToken(viewer.body.token, 'GET', isvcs)).status).toBe(401);
  });
});
