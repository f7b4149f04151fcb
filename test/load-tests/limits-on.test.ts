/**
 * The `sluice-limits` system of the ingress-limits scenario (load-tests/support/limits-on.ts): every ingress rule
 * on and none biting. What the scenario relies on: that Sluice starts with those annotations and settings (they
 * were once outside what an InferenceService accepts, and the scenario could not run), that ordinary requests pass,
 * and that the rules are really on.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChildRegistry, spawnService } from '../../load-tests/harness/child-process.js';
import { startJsonResponder, type RunningResponder } from '../../load-tests/upstreams/json-responder.js';

const SERVER = fileURLToPath(new URL('../../dist/load-tests/systems/sluice-server.js', import.meta.url));
const registry = new ChildRegistry();
let primary: RunningResponder;
let canary: RunningResponder;
let base: string;

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
