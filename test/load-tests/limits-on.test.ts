/**
 * The `sluice-limits` system of the ingress-limits scenario (load-tests/support/limits-on.ts): every ingress rule
 * on and none biting. What the scenario relies on: that Sluice starts with those annotations and settings (they
 * were once outside what an InferenceService accepts, and the scenario could not run), that ordinary requests pass,
 * and that the rules are really on.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildRegistry, spawnService } from '../../load-tests/harness/child-process.js';
import { LIMIT_RULES, LIMITS_ON_ANNOTATIONS, LIMITS_ON_SETTINGS, limitsOf } from '../../load-tests/support/limits-on.js';
import { startJsonResponder, type RunningResponder } from '../../load-tests/upstreams/json-responder.js';

const SERVER = fileURLToPath(new URL('../../dist/load-tests/systems/sluice-server.js', import.meta.url));
const registry = new ChildRegistry();
let primary: RunningResponder;
let canary: RunningResponder;
let base: string;
/** The same with only the body limit on (`sluice-limit-body`). */
let bodyOnly: string;

beforeAll(async () => {
  primary = await startJsonResponder('primary');
  canary = await startJsonResponder('canary');
  const sluice = await spawnService(registry, {
    command: process.execPath,
    args: [SERVER, '--upstream', primary.url, '--upstream', canary.url, '--limits', 'on'],
    ready: { kind: 'prints-port' },
    label: 'sluice --limits on',
  });
  base = `http://127.0.0.1:${sluice.port}`;
  const body = await spawnService(registry, {
    command: process.execPath,
    args: [SERVER, '--upstream', primary.url, '--upstream', canary.url, '--limits', 'body'],
    ready: { kind: 'prints-port' },
    label: 'sluice --limits body',
  });
  bodyOnly = `http://127.0.0.1:${body.port}`;
}, 30_000);
afterAll(async () => {
  await registry.stopAll();
  await primary?.stop();
  await canary?.stop();
});

describe('sluice-server --limits on (the ingress-limits scenario\'s sluice-limits)', () => {
  it('serves ordinary requests: no rule bites', async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`${base}/v1/models/bench:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances":[[1,2]]}' })),
    );
    expect(answers.map((a) => a.status)).toEqual(new Array(50).fill(200));
  });

  it('has the rules on: a body over the 1 MiB limit is refused with 413, and a CORS preflight is answered', async () => {
    const big = await fetch(`${base}/v1/models/bench:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 << 20) });
    expect(big.status).toBe(413);
    const preflight = await fetch(`${base}/v1/models/bench:predict`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  });
});

describe('sluice-server --limits <rule> (the scenario\'s sluice-limit-<rule>: one rule at a time)', () => {
  it('every rule together is what --limits on sets', () => {
    const all = limitsOf(Object.keys(LIMIT_RULES) as Array<keyof typeof LIMIT_RULES>);
    expect(all.annotations).toEqual(LIMITS_ON_ANNOTATIONS);
    expect(all.settings).toEqual(LIMITS_ON_SETTINGS);
    expect(Object.keys(LIMITS_ON_ANNOTATIONS)).toHaveLength(7);
    expect(limitsOf([]).annotations).toEqual({});
  });

  it('--limits body: the body limit is on and CORS is not', async () => {
    const big = await fetch(`${bodyOnly}/v1/models/bench:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2 << 20) });
    expect(big.status).toBe(413);
    const ok = await fetch(`${bodyOnly}/v1/models/bench:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"instances":[[1,2]]}' });
    expect(ok.status).toBe(200);
    const preflight = await fetch(`${bodyOnly}/v1/models/bench:predict`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('an unknown rule stops it with the rules it knows', async () => {
    const run = promisify(execFile)(process.execPath, [SERVER, '--upstream', 'http://127.0.0.1:1', '--upstream', 'http://127.0.0.1:2', '--limits', 'rate,speed']);
    await expect(run).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining('--limits takes on, off or rules from rate, client-rate, concurrency, cidr, body, cors; got rate,speed') });
  });
});
