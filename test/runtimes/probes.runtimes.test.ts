/**
 * tritonclient[http] pointed at the gateway's bare address (no service Host, no /serving/ prefix), as a client or a
 * load balancer would: server live/ready/metadata answer from Sluice, and model readiness and metadata probes at
 * zero do not wake the model. The model is the demo runtime (Node), so only the small `clients` venv is needed
 * (runtimes/requirements-clients.txt, built by runtimes/setup-venv.sh). See docs/probes.md.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { SLUICE_VERSION } from '../../core/version.js';
import type { LocalBackend } from '../../deploy/backends/local/local-backend.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';
import { tritonProbes, type TritonProbeAnswer, type TritonProbeStep } from './harness.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };
const KEY = 'default/sleepy-predictor-00001';
const PROBES = 10;

describe('tritonclient against the gateway address', () => {
  let sluice: Embedded;
  let hostPort: string;

  const probe = (steps: TritonProbeStep[]): Promise<TritonProbeAnswer[]> => tritonProbes(hostPort, 'sleepy', steps);
  const values = (answers: TritonProbeAnswer[]): unknown[] => answers.map((a) => (a.ok ? a.value : `${a.status}: ${a.error}`));
  const atZero = (): void => {
    expect(sluice.backend.counts(KEY)).toEqual({ desired: 0, starting: 0, ready: 0 });
    expect((sluice.backend as LocalBackend).replicaProcesses(KEY)).toEqual([]);
  };
  /** The autoscaler has decided at least twice since `since` (so a wake it was asked for would show). */
  const twoDecisionsAfter = async (since: number): Promise<void> => {
    await waitUntil(
      'two autoscaler decisions after the probes',
      () => {
        const at = sluice.autoscaler.status(KEY)?.lastDecision?.at;
        return at !== undefined && Date.parse(at) > since + 1_000;
      },
      10_000,
      50,
    );
  };

  beforeAll(async () => {
    sluice = await startTestSluice(configFolder({ 'sleepy.yaml': demoService('sleepy', { annotations: ZERO }) }), {
      scaleToZeroGraceSeconds: 1,
      tickSeconds: 0.5,
    });
    hostPort = new URL(sluice.dataUrl).host;
  });
  afterAll(async () => {
    await sluice?.close();
  });

  it('is_server_live() and is_server_ready() are True; the server metadata names Sluice', async () => {
    const [live, ready, meta] = await probe(['server_live', 'server_ready', 'server_metadata']);
    expect(live).toEqual({ step: 'server_live', ok: true, value: true });
    expect(ready).toEqual({ step: 'server_ready', ok: true, value: true });
    expect(meta).toMatchObject({ ok: true, value: { name: 'sluice', version: SLUICE_VERSION, extensions: [] } });
  });

  it(`${PROBES} model probes of a model that never ran: not ready, and nothing starts`, async () => {
    const answers = await probe(Array.from({ length: PROBES }, () => 'model_ready' as const));
    expect(values(answers)).toEqual(Array.from({ length: PROBES }, () => false));
    await twoDecisionsAfter(Date.now());
    atZero();
  });

  it('one inference wakes it; back at zero, readiness is True and metadata is what the runtime said, without waking it', async () => {
    const [infer, warmMeta] = await probe(['infer', 'model_metadata']);
    expect(infer).toMatchObject({ ok: true, value: { model_name: 'sleepy' } });
    expect(warmMeta).toMatchObject({ ok: true, value: { name: 'sleepy', platform: 'sluice-demo' } });

    await waitUntil('sleepy back at zero', () => {
      const c = sluice.backend.counts(KEY);
      return c.desired === 0 && c.ready === 0 && c.starting === 0;
    }, 30_000, 200);
    const answers = await probe(Array.from({ length: PROBES }, (_, i) => (i % 2 === 0 ? 'model_ready' : 'model_metadata')));
    expect(values(answers)).toEqual(Array.from({ length: PROBES }, (_, i) => (i % 2 === 0 ? true : (warmMeta as { value: unknown }).value)));
    await twoDecisionsAfter(Date.now());
    atZero();
  }, 90_000);
});
