/**
 * `sluice.dev/auth: kubernetes` on real sockets: the gateway, a replica that records what reaches it, and the test
 * Kubernetes API server (test/kube-apiserver) answering TokenReviews and SubjectAccessReviews from the test's tokens
 * and RBAC-like rules, reached through the real @kubernetes/client-node. Injected clock for the cache TTLs.
 * Covers: allowed (identity to the replica, the token not), 401 with WWW-Authenticate, 403 naming the rule, cache
 * hits not calling the API server, revocation and new grants within the documented TTLs, no review for a request
 * an earlier rule refused, nothing woken at zero, the API server down (503, fail closed), and embedded mode
 * refusing the annotation at apply.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.js';
import { dataAuth } from '../../cli/auth-wiring.js';
import { SERVE_DEFAULTS } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { AuthStage } from '../../gateway/stages/auth/auth-stage.js';
import { clientNodeReviews, KubeAuth } from '../../gateway/stages/auth/kube-reviews.js';
import { startTestApiServer, type TestApiServer } from '../kube-apiserver/index.js';
import { controllerHarness, isvc } from '../support/controller-harness.js';
import { gatewayHarness, type GatewayHarness } from '../support/gateway-harness.js';
import { waitUntil } from '../support/wait.js';

const REV = 'default/iris-predictor-00001';
const AUD_REV = 'default/aud-predictor-00001';
const PLAIN_REV = 'default/plain-predictor-00001';
const GROUP = 'serving.kserve.io';
const KUBE = { 'sluice.dev/auth': 'kubernetes' };
const ALICE = 'system:serviceaccount:default:alice';
const BOB = 'system:serviceaccount:default:bob';

let g: GatewayHarness;
let api: TestApiServer;
let upstream: Server;
let kube: KubeAuth;
let kc: KubeConfig;
const holder: { stage: AuthStage | null } = { stage: null };
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  api = await startTestApiServer({ kubelet: false });
  api.reviews.tokens.set('tok-alice', { username: ALICE, groups: ['system:serviceaccounts', 'system:serviceaccounts:default'] });
  api.reviews.tokens.set('tok-bob', { username: BOB });
  api.reviews.rules = [{ name: 'RoleBinding "iris-callers" (default)', user: ALICE, verbs: ['get'], apiGroups: [GROUP], resources: ['inferenceservices'], namespaces: ['default'], names: ['iris'] }];
  upstream = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"predictions":[1]}');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));

  g = await gatewayHarness({ kubernetesAuth: true }, [
    { name: 'auth', onRouted: (ex) => holder.stage!.onRouted(ex), onUpstreamHeaders: (ex, h) => holder.stage!.onUpstreamHeaders(ex, h) },
  ]);
  kc = new KubeConfig();
  kc.loadFromFile(api.kubeconfigPath);
  kube = new KubeAuth({ api: clientNodeReviews(kc), clock: g.clock, group: GROUP });
  holder.stage = new AuthStage({ defaultPolicy: { mode: 'none', key: 'none' }, keys: { byHash: () => undefined }, jwt: null, kube, domain: 'example.com' });
  await g.controller.apply(isvc('iris', 'gs://m/v1', '    minReplicas: 1\n', KUBE), 'api');
  // At zero, reachable only from 10.0.0.0/8: the CIDR rule runs before auth.
  await g.controller.apply(isvc('cold', 'gs://m/v1', '    minReplicas: 0\n', { ...KUBE, 'sluice.dev/allow-cidrs': '10.0.0.0/8' }), 'api');
  await g.controller.apply(isvc('zero', 'gs://m/v1', '    minReplicas: 0\n', KUBE), 'api');
  await g.controller.apply(isvc('aud', 'gs://m/v1', '    minReplicas: 1\n', { ...KUBE, 'sluice.dev/auth-kubernetes-audiences': 'sluice, https://aud.example.com' }), 'api');
  // No sluice.dev/auth: follows the gateway-wide default (dataAuth).
  await g.controller.apply(isvc('plain', 'gs://m/v1', '    minReplicas: 1\n'), 'api');
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  for (const rev of [REV, AUD_REV, PLAIN_REV]) g.backend.markReady(rev, url);
  await waitUntil('the replicas in rotation', () => [REV, AUD_REV, PLAIN_REV].every((r) => g.activator.activeReplicas(r) === 1));
});

afterAll(async () => {
  await g?.close();
  await api?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

async function call(token?: string, model = 'iris'): Promise<{ status: number; challenge: string | undefined; error: string | undefined }> {
  const r = await g.pool.request({
    path: `/v1/models/${model}:predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: '{"instances":[[1,2,3,4]]}',
  });
  const challenge = r.headers['www-authenticate'];
  const text = await r.body.text();
  let error: string | undefined;
  try {
    error = (JSON.parse(text) as { error?: string }).error;
  } catch {
    error = undefined;
  }
  return { status: r.statusCode, challenge: typeof challenge === 'string' ? challenge : undefined, error };
}

const reviews = (): { token: number; access: number } => ({ token: api.reviews.tokenReviews, access: api.reviews.accessReviews });

describe('Kubernetes token auth through the gateway (TokenReview + SubjectAccessReview)', () => {
  it('serves a token RBAC allows; the replica gets the user name, not the token; a cached answer calls no API', async () => {
    seen.length = 0;
    const before = reviews();
    expect((await call('tok-alice')).status).toBe(200);
    expect(seen[0]!['x-sluice-subject']).toBe(ALICE);
    expect(seen[0]!.authorization).toBeUndefined();
    expect(reviews()).toEqual({ token: before.token + 1, access: before.access + 1 });
    const log = api.requestLog().length;
    for (let i = 0; i < 10; i++) expect((await call('tok-alice')).status).toBe(200);
    expect(reviews()).toEqual({ token: before.token + 1, access: before.access + 1 });
    expect(api.requestLog().length).toBe(log);
  });

  it('concurrent requests with a new token share one review', async () => {
    api.reviews.tokens.set('tok-alice-2', { username: ALICE });
    const before = reviews();
    const rs = await Promise.all(Array.from({ length: 20 }, () => call('tok-alice-2')));
    expect(rs.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(reviews()).toEqual({ token: before.token + 1, access: before.access + 1 });
  });

  it('no token: 401 with WWW-Authenticate; an unknown token: 401 invalid_token, cached as refused', async () => {
    const none = await call();
    expect(none).toMatchObject({ status: 401, challenge: 'Bearer realm="sluice"' });
    expect(none.error).toBe('default/iris needs a Kubernetes bearer token: send "Authorization: Bearer <token>" (e.g. a service account token)');
    const before = reviews();
    const bad = await call('tok-mallory');
    const message = 'the Kubernetes API server did not authenticate the bearer token (TokenReview: invalid bearer token)';
    expect(bad).toEqual({ status: 401, error: message, challenge: `Bearer realm="sluice", error="invalid_token", error_description="${message}"` });
    expect((await call('tok-mallory')).status).toBe(401);
    expect(reviews()).toEqual({ token: before.token + 1, access: before.access });
  });

  it('a token RBAC does not allow: 403 naming the rule and the permission; a new grant works after the 10 s negative TTL', async () => {
    const r = await call('tok-bob');
    expect(r.status).toBe(403);
    expect(r.challenge).toBe('Bearer realm="sluice", error="insufficient_scope"');
    expect(r.error).toBe(`Kubernetes RBAC does not allow "${BOB}" to get inferenceservices.${GROUP} "iris" in namespace "default" (rule: sluice.dev/auth: kubernetes, SubjectAccessReview)`);
    api.reviews.rules.push({ name: 'RoleBinding "bob" (default)', user: BOB, verbs: ['get'], apiGroups: [GROUP], resources: ['inferenceservices'], namespaces: ['default'] });
    expect((await call('tok-bob')).status).toBe(403); // still the cached denial
    g.clock.advance(10_001);
    expect((await call('tok-bob')).status).toBe(200);
    // Alice's grant names iris only.
    api.reviews.rules.pop();
  });

  it('a revoked token (or binding) stops working within the 60 s positive TTL', async () => {
    api.reviews.tokens.set('tok-carol', { username: 'system:serviceaccount:default:carol', groups: ['callers'] });
    api.reviews.rules.push({ name: 'RoleBinding "callers"', group: 'callers', verbs: ['get'], apiGroups: [GROUP], resources: ['inferenceservices'] });
    expect((await call('tok-carol')).status).toBe(200);
    api.reviews.tokens.delete('tok-carol');
    g.clock.advance(59_000);
    expect((await call('tok-carol')).status).toBe(200);
    g.clock.advance(1_001);
    expect((await call('tok-carol')).status).toBe(401);
    api.reviews.rules.pop();
  });

  it('sluice.dev/auth-kubernetes-audiences: the TokenReview asks for them; a token meant for another audience is 401, one for them is served', async () => {
    api.reviews.tokens.set('tok-aud', { username: ALICE, audiences: ['sluice'] });
    api.reviews.rules.push({ name: 'RoleBinding "aud-callers"', user: ALICE, verbs: ['get'], apiGroups: [GROUP], resources: ['inferenceservices'], namespaces: ['default'], names: ['aud'] });
    const asked = api.reviews.askedAudiences.length;
    seen.length = 0;
    expect((await call('tok-aud', 'aud')).status).toBe(200);
    expect(seen[0]!['x-sluice-subject']).toBe(ALICE);
    expect(api.reviews.askedAudiences.slice(asked)).toEqual([['https://aud.example.com', 'sluice']]);
    // Alice's plain token is meant for the API server, not for these audiences; and the other way round.
    const plain = await call('tok-alice', 'aud');
    expect(plain.status).toBe(401);
    expect(plain.error).toBe('the Kubernetes API server did not authenticate the bearer token (TokenReview: token audiences are invalid for the target audiences)');
    expect((await call('tok-aud', 'iris')).status).toBe(401);
    expect((await call('tok-alice', 'iris')).status).toBe(200);
    // Each audience set has its own cache: the answers above are not mixed up on the next requests.
    const before = reviews();
    expect((await call('tok-aud', 'aud')).status).toBe(200);
    expect((await call('tok-alice', 'aud')).status).toBe(401);
    expect((await call('tok-alice', 'iris')).status).toBe(200);
    expect(reviews().token).toBe(before.token);
  });

  it('an API server that ignores spec.audiences (no status.audiences) does not pass a token: 401, naming the annotation (fail closed)', async () => {
    api.reviews.audienceAware = false;
    try {
      api.reviews.tokens.set('tok-old-server', { username: ALICE });
      const r = await call('tok-old-server', 'aud');
      expect(r.status).toBe(401);
      expect(r.error).toBe(
        'the Kubernetes API server did not authenticate the bearer token (TokenReview: the token is not meant for any of the audiences https://aud.example.com, sluice (sluice.dev/auth-kubernetes-audiences))',
      );
    } finally {
      api.reviews.audienceAware = true;
    }
  });

  it('dataAuth: kubernetes makes Kubernetes tokens the rule for services without sluice.dev/auth (cluster wiring)', async () => {
    const own = holder.stage;
    const wired = dataAuth({ ...SERVE_DEFAULTS, dataAuth: 'kubernetes' }, { clock: g.clock, logger: silentLogger(), keys: { byHash: () => undefined }, kubernetes: { kubeConfig: kc, group: GROUP } });
    try {
      expect((await call(undefined, 'plain')).status).toBe(200); // dataAuth none (the harness's own stage): open
      holder.stage = wired.stage;
      const none = await call(undefined, 'plain');
      expect(none).toMatchObject({ status: 401, challenge: 'Bearer realm="sluice"' });
      expect(none.error).toBe('default/plain needs a Kubernetes bearer token: send "Authorization: Bearer <token>" (e.g. a service account token)');
      const denied = await call('tok-alice', 'plain');
      expect(denied.status).toBe(403);
      expect(denied.error).toBe(`Kubernetes RBAC does not allow "${ALICE}" to get inferenceservices.${GROUP} "plain" in namespace "default" (rule: sluice.dev/auth: kubernetes, SubjectAccessReview)`);
      api.reviews.rules.push({ name: 'RoleBinding "plain"', user: BOB, verbs: ['get'], apiGroups: [GROUP], resources: ['inferenceservices'], names: ['plain'] });
      seen.length = 0;
      expect((await call('tok-bob', 'plain')).status).toBe(200);
      expect(seen[0]!['x-sluice-subject']).toBe(BOB);
      expect(seen[0]!.authorization).toBeUndefined();
      api.reviews.rules.pop();
    } finally {
      holder.stage = own;
      wired.close();
    }
  });

  it('kubernetesAudiences: the TokenReview of a service naming no audiences asks for the setting\'s; a service\'s sluice.dev/auth-kubernetes-audiences replaces them', async () => {
    const own = holder.stage;
    const wired = dataAuth(
      { ...SERVE_DEFAULTS, dataAuth: 'kubernetes', kubernetesAudiences: ['sluice-gateway', 'https://gw.example.com'] },
      { clock: g.clock, logger: silentLogger(), keys: { byHash: () => undefined }, kubernetes: { kubeConfig: kc, group: GROUP } },
    );
    api.reviews.tokens.set('tok-gw', { username: BOB, audiences: ['sluice-gateway'] });
    api.reviews.tokens.set('tok-gw-2', { username: BOB, audiences: ['https://gw.example.com'] });
    api.reviews.tokens.set('tok-gw-aud', { username: ALICE, audiences: ['sluice'] });
    api.reviews.rules.push({ name: 'RoleBinding "gw"', user: BOB, verbs: ['get'], apiGroups: [GROUP], resources: ['inferenceservices'], names: ['plain', 'iris'] });
    api.reviews.rules.push({ name: 'RoleBinding "gw-aud"', user: ALICE, verbs: ['get'], apiGroups: [GROUP], resources: ['inferenceservices'], names: ['aud'] });
    try {
      holder.stage = wired.stage;
      let asked = api.reviews.askedAudiences.length;
      // dataAuth: kubernetes (no annotation at all): the setting's audiences are asked for (sorted, as a set).
      seen.length = 0;
      expect((await call('tok-gw', 'plain')).status).toBe(200);
      expect(seen[0]!['x-sluice-subject']).toBe(BOB);
      expect(api.reviews.askedAudiences.slice(asked)).toEqual([['https://gw.example.com', 'sluice-gateway']]);
      // A plain service account token (meant for the API server) is not meant for them: 401.
      asked = api.reviews.askedAudiences.length;
      const plain = await call('tok-bob', 'plain');
      expect(plain.status).toBe(401);
      expect(plain.error).toBe('the Kubernetes API server did not authenticate the bearer token (TokenReview: token audiences are invalid for the target audiences)');
      expect(api.reviews.askedAudiences.slice(asked)).toEqual([['https://gw.example.com', 'sluice-gateway']]);
      // sluice.dev/auth: kubernetes without sluice.dev/auth-kubernetes-audiences: the setting's too (a token not
      // reviewed yet: tok-gw's review, for the same audiences, is cached and shared).
      asked = api.reviews.askedAudiences.length;
      expect((await call('tok-gw-2', 'iris')).status).toBe(200);
      expect(api.reviews.askedAudiences.slice(asked)).toEqual([['https://gw.example.com', 'sluice-gateway']]);
      expect((await call('tok-gw', 'iris')).status).toBe(200);
      expect(api.reviews.askedAudiences.slice(asked)).toHaveLength(1);
      // The annotation replaces the setting: only its audiences are asked for, and a token for the setting's is refused.
      asked = api.reviews.askedAudiences.length;
      expect((await call('tok-gw-aud', 'aud')).status).toBe(200);
      expect((await call('tok-gw', 'aud')).status).toBe(401);
      expect(api.reviews.askedAudiences.slice(asked)).toEqual([
        ['https://aud.example.com', 'sluice'],
        ['https://aud.example.com', 'sluice'],
      ]);
      // An API server that ignores spec.audiences passes nothing, and the refusal names the setting.
      api.reviews.audienceAware = false;
      api.reviews.tokens.set('tok-gw-old', { username: BOB });
      const old = await call('tok-gw-old', 'plain');
      expect(old.status).toBe(401);
      expect(old.error).toBe(
        'the Kubernetes API server did not authenticate the bearer token (TokenReview: the token is not meant for any of the audiences https://gw.example.com, sluice-gateway (the kubernetesAudiences setting))',
      );
    } finally {
      api.reviews.audienceAware = true;
      api.reviews.rules.pop();
      api.reviews.rules.pop();
      holder.stage = own;
      wired.close();
    }
  });

  it('a request an earlier rule refused is never reviewed, and nothing at zero is woken', async () => {
    const before = reviews();
    const r = await call('tok-alice', 'cold');
    expect(r.status).toBe(403);
    expect(r.error).toMatch(/is not allowed to call InferenceService default\/cold \(sluice.dev\/allow-cidrs\)/);
    expect(reviews()).toEqual(before);
    // Refused by the review itself: answered at once, nothing held for the revision at zero (no replica is ready
    // there, so a request let through would be held waiting for one).
    for (const t of [undefined, 'tok-mallory', 'tok-bob']) {
      const z = await call(t, 'zero');
      expect(z.status).toBe(t === 'tok-bob' ? 403 : 401);
    }
    expect(g.activator.held('default/zero-predictor-00001')).toBe(0);
    expect(g.activator.held('default/cold-predictor-00001')).toBe(0);
  });

  it('the API server down: a token not in the cache is refused with 503 (fail closed), naming the failure', async () => {
    api.reviews.tokens.set('tok-dave', { username: ALICE });
    expect((await call('tok-alice')).status).toBe(200); // reviewed again (the earlier answer's TTL has passed), cached
    await api.close();
    const r = await call('tok-dave');
    expect(r.status).toBe(503);
    expect(r.error).toMatch(/^cannot check the Kubernetes token: the TokenReview to the Kubernetes API server failed \(.+\); the request is refused \(fail closed\)$/);
    expect(r.challenge).toBeUndefined();
    // An answer still in the cache keeps serving until its TTL.
    expect((await call('tok-alice')).status).toBe(200);
  });
});

describe('embedded mode', () => {
  it('refuses sluice.dev/auth: kubernetes at apply, naming the field and why', async () => {
    const h = controllerHarness();
    try {
      const err = await h.controller.apply(isvc('iris', 'gs://m/v1', '', KUBE), 'api').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues).toEqual([
        {
          path: 'metadata.annotations["sluice.dev/auth"]',
          message:
            '"kubernetes" needs a Kubernetes API server to review tokens (TokenReview, SubjectAccessReview), which embedded mode (sluice serve) does not have: use api-key or jwt here, or run in cluster mode (docs/security.md)',
        },
      ]);
    } finally {
      h.controller.stop();
    }
  });
});
