/**
 * Load-balancer probes against the whole embedded Sluice (gateway, activator, autoscaler, local backend with
 * real demo-runtime processes): the gateway's own endpoints answer at its bare address, and model probes at
 * zero leave the revision at zero — no desired replica, no process — until an inference request wakes it.
 * After one warm answer, metadata probes at zero are answered from what the runtime said. See docs/probes.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import type { LocalBackend } from '../../deploy/backends/local/local-backend.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };
const KEY = 'default/sleepy-predictor-00001';

describe('probes at zero through the embedded stack', () => {
  let sluice: Embedded;

  const get = async (path: string): Promise<{ status: number; by: string | null; text: string }> => {
    const r = await fetch(`${sluice.dataUrl}${path}`);
    return { status: r.status, by: r.headers.get('x-sluice-answered-by'), text: await r.text() };
  };
  /** Asserts the revision is at zero after the autoscaler has decided at least twice since `since`. */
  const stillAtZero = async (since: number): Promise<void> => {
    await waitUntil(
      'two autoscaler decisions after the probes',
      () => {
        const at = sluice.autoscaler.status(KEY)?.lastDecision?.at;
        return at !== undefined && Date.parse(at) > since + 1_000;
      },
      10_000,
      50,
    );
    expect(sluice.backend.counts(KEY)).toEqual({ desired: 0, starting: 0, ready: 0 });
    expect((sluice.backend as LocalBackend).replicaProcesses(KEY)).toEqual([]);
  };

  beforeAll(async () => {
    sluice = await startTestSluice(configFolder({ 'sleepy.yaml': demoService('sleepy', { annotations: ZERO }) }), {
      scaleToZeroGraceSeconds: 1,
      tickSeconds: 0.5,
    });
  });
  afterAll(async () => {
    await sluice?.close();
  });

  it('the gateway is live and ready at its bare address and lists the model', async () => {
    expect(await get('/readyz')).toMatchObject({ status: 200 });
    expect(await get('/v2/health/ready')).toMatchObject({ status: 200 });
    expect(JSON.parse((await get('/v1/models')).text)).toEqual({ models: ['sleepy'] });
    expect(JSON.parse((await get('/v2')).text)).toMatchObject({ name: 'sluice' });
  });

  it('readiness probes of a revision that never ran answer 503 and start nothing', async () => {
    for (let i = 0; i < 20; i++) {
      const a = await get(i % 2 === 0 ? '/v2/models/sleepy/ready' : '/v1/models/sleepy');
      expect([a.status, a.by]).toEqual([503, 'gateway']);
    }
    await stillAtZero(Date.now());
  });

  it('one inference wakes it; a warm metadata answer is kept; back at zero, probes answer without waking it', async () => {
    const infer = await fetch(`${sluice.dataUrl}/v2/models/sleepy/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', data: [6.3, 3.3, 6.0, 2.5] }] }),
    });
    expect(infer.status).toBe(200);
    expect(Number(infer.headers.get('x-sluice-cold-start'))).toBeGreaterThan(0);
    const warm = await get('/v2/models/sleepy');
    expect([warm.status, warm.by]).toEqual([200, null]);
    expect(JSON.parse(warm.text)).toMatchObject({ name: 'sleepy', platform: 'sluice-demo' });

    await waitUntil('sleepy to scale to zero', () => sluice.backend.counts(KEY).desired === 0, 30_000, 200);
    await waitUntil('no sleepy replica left', () => sluice.backend.counts(KEY).ready === 0 && sluice.backend.counts(KEY).starting === 0, 10_000, 100);
    for (let i = 0; i < 30; i++) {
      const a = await get(['/v2/models/sleepy/ready', '/v1/models/sleepy', '/v2/models/sleepy'][i % 3]!);
      expect([a.status, a.by]).toEqual([200, 'gateway']);
      if (i % 3 === 2) expect(a.text).toBe(warm.text);
    }
    await stillAtZero(Date.now());
  }, 60_000);
});
