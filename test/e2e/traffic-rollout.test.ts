import { Pool } from 'undici';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../../cli/admin-client.js';
import type { Embedded } from '../../cli/embedded.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';

interface Predictor {
  latestReadyRevision?: string;
  latestRolledoutRevision?: string;
  traffic: Array<{ revisionName: string; percent: number }>;
}
interface Status {
  conditions: Array<{ type: string; status: string; reason?: string; message?: string }>;
  rollout?: { phase: string; message: string };
  components: { predictor: Predictor };
}

/** Continuous load: `workers` loops of predictions until stopped; every answer is recorded in order. */
function load(pool: Pool, model: string, workers: number): { results: Array<{ status: number; label: string; error?: string }>; stop(): Promise<Array<{ status: number; label: string; error?: string }>> } {
  const results: Array<{ status: number; label: string; error?: string }> = [];
  let running = true;
  const body = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        const r = await pool.request({ path: `/v1/models/${model}:predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.body.text();
        results.push({ status: r.statusCode, label: String(r.headers['x-demo-label'] ?? '') });
      } catch (err) {
        results.push({ status: 0, label: '', error: String(err) });
      }
    }
  });
  return {
    results,
    async stop() {
      running = false;
      await Promise.all(loops);
      return results;
    },
  };
}

describe('rollouts under continuous load (embedded, real replica processes)', () => {
  let sluice: Embedded;
  let admin: AdminClient;
  let pool: Pool;
  const put = async (yaml: string): Promise<void> => {
    const doc = parseYaml(yaml) as { metadata: { name: string } };
    await admin.put('default', doc.metadata.name, doc);
  };
  const status = async (name: string): Promise<Status> => ((await admin.get('default', name)) as unknown as { status: Status }).status;
  const traffic = (p: Predictor): Array<[string, number]> => p.traffic.map((t) => [t.revisionName, t.percent]);

  beforeAll(async () => {
    sluice = await startTestSluice(configFolder({}), { rolloutTickSeconds: 0.25 });
    admin = new AdminClient(sluice.adminUrl, { token: sluice.adminToken });
    pool = new Pool(sluice.dataUrl, { connections: 16 });
  });
  afterAll(async () => {
    await pool?.close();
    await sluice?.close();
  });

  it('0 → 10 → 100 and a rollback lose no request and answer no 5xx', async () => {
    const svc = (label: string, extra = ''): string => demoService('walk', { predictor: `    minReplicas: 1\n${extra}`, env: { SLUICE_DEMO_LABEL: label } });
    await put(svc('v1'));
    await waitUntil('walk v1 ready', async () => (await status('walk')).components.predictor.latestReadyRevision === 'walk-predictor-00001', 20_000, 100);
    const running = load(pool, 'walk', 8);
    /** Waits until `n` more answers have come from `label`. */
    const seen = async (label: string, n: number): Promise<void> => {
      const from = running.results.length;
      await waitUntil(`${n} more answers from ${label}`, () => running.results.slice(from).filter((r) => r.label === label).length >= n, 20_000, 20);
    };
    // Canary at 0 %: the new revision starts and is ready, but takes nothing.
    await put(svc('v2', '    canaryTrafficPercent: 0\n'));
    await waitUntil('walk v2 ready', async () => (await status('walk')).components.predictor.latestReadyRevision === 'walk-predictor-00002', 20_000, 100);
    await seen('v1', 200);
    await admin.traffic('default', 'walk', { op: 'canary', percent: 10 });
    await seen('v2', 50);
    await admin.traffic('default', 'walk', { op: 'canary', percent: 100 });
    await seen('v2', 300);
    expect((await status('walk')).components.predictor).toMatchObject({ latestRolledoutRevision: 'walk-predictor-00002' });
    await admin.traffic('default', 'walk', { op: 'rollback' });
    await seen('v1', 300);
    const results = await running.stop();
    expect(results.length).toBeGreaterThan(500);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    // The labels move 1 → 2 → 1 and both appear.
    const labels = results.map((r) => r.label);
    expect(labels.filter((l) => l === 'v2').length).toBeGreaterThan(50);
    expect(labels.at(-1)).toBe('v1');
    expect(traffic((await status('walk')).components.predictor)).toEqual([
      ['walk-predictor-00002', 0],
      ['walk-predictor-00001', 100],
    ]);
  }, 90_000);

  it('a canary answering 500 on 20 % of requests is rolled back by the rollout policy, with the reason in status', async () => {
    const policy = '    rollout:\n      steps: [20, 50]\n      dwellSeconds: 30\n      minRequests: 40\n      maxP99Ratio: 50\n';
    const svc = (label: string, env: Record<string, string> = {}): string =>
      demoService('gate', { predictor: `    minReplicas: 1\n${policy}`, env: { SLUICE_DEMO_LABEL: label, ...env } });
    await put(svc('v1'));
    await waitUntil('gate v1 ready', async () => (await status('gate')).components.predictor.latestReadyRevision === 'gate-predictor-00001', 20_000, 100);
    const running = load(pool, 'gate', 8);
    await put(svc('v2', { SLUICE_DEMO_ERROR_RATE: '0.2' }));
    const st = await waitUntil('the rollout to roll back', async () => {
      const s = await status('gate');
      return s.rollout?.phase === 'RolledBack' ? s : undefined;
    }, 30_000, 100);
    const marker = (await running.stop()).length;
    const cond = st.conditions.find((c) => c.type === 'RolloutSucceeded');
    expect(cond).toMatchObject({ status: 'False', reason: 'RolledBack' });
    expect(cond!.message).toMatch(/^canary error rate (1[7-9]|20)\.\d% exceeds the stable revision's 0\.0% by .* \(limit 5\.0%\) over \d+ canary and \d+ stable requests at step 20%$/);
    expect(traffic(st.components.predictor)).toEqual([
      ['gate-predictor-00002', 0],
      ['gate-predictor-00001', 100],
    ]);
    // After the rollback every request is served by v1, without errors.
    const after = load(pool, 'gate', 4);
    await new Promise((r) => setTimeout(r, 1000));
    const later = await after.stop();
    expect(marker).toBeGreaterThan(0);
    expect(later.length).toBeGreaterThan(20);
    expect(later.every((r) => r.status === 200 && r.label === 'v1')).toBe(true);
  }, 90_000);
});
