import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { LocalBackend } from '../../deploy/backends/local/local-backend.js';
import { configFolder, startTestSluice } from '../support/embedded.js';
import { metricValue } from '../support/metrics-text.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function service(name: string, predictor: string, env: Record<string, string>, annotations: Record<string, string>): string {
  return `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${name}
  annotations:
${Object.entries(annotations)
  .map(([k, v]) => `    ${k}: "${v}"`)
  .join('\n')}
spec:
  predictor:
${predictor}
    model:
      modelFormat: {name: sklearn}
      runtime: sluice-demo
      storageUri: file://${join(SLUICE_ROOT, 'examples', 'models', 'iris')}
      env:
${Object.entries(env)
  .map(([k, v]) => `        - {name: ${k}, value: "${v}"}`)
  .join('\n')}
`;
}

/** Closed-loop load: `workers` clients each sending one request after another until stopped. */
function load(url: string, workers: number): { stop: () => Promise<{ ok: number; failed: number }> } {
  let running = true;
  let ok = 0;
  let failed = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        const r = await fetch(url, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
        await r.arrayBuffer();
        if (r.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

describe('autoscaling in the embedded loop, against the demo runtime', () => {
  let s: Embedded | null = null;
  afterEach(async () => {
    await s?.close();
    s = null;
  });

  it('steps from 0 to 4 ready replicas under load, holds them without oscillating, and returns to 0', async () => {
    // 11 clients × 1 s requests: target 3 per replica at 100 % utilization wants 4 replicas for anything over 9
    // in flight. With 1 s at the replica per request, client and gateway overhead would have to exceed 220 ms a
    // request to drop below that — the step does not depend on how busy the machine is (with 250 ms requests it
    // measured 9 in flight on a loaded machine and settled at 3).
    const dir = configFolder({
      'step.yaml': service(
        'step',
        '    minReplicas: 0\n    maxReplicas: 10\n    scaleTarget: 3\n',
        { SLUICE_DEMO_LATENCY_MS: '1000' },
        { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s', 'autoscaling.knative.dev/target-utilization-percentage': '100' },
      ),
    });
    s = await startTestSluice(dir, { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5 });
    const key = 'default/step-predictor-00001';
    const traffic = load(`${s.dataUrl}/v1/models/step:predict`, 11);
    let sent: { ok: number; failed: number };
    try {
      await waitUntil('4 ready replicas', () => s!.backend.counts(key).ready === 4, 30_000, 100);
      // Hold: no scale event for two stable windows (12 s).
      const eventsBefore = ((s.controller.get('default', 'step') as Obj).status.revisions[0].scaleEvents ?? []).length;
      const deadline = Date.now() + 12_000;
      while (Date.now() < deadline) {
        expect(s.backend.counts(key)).toMatchObject({ desired: 4, ready: 4 });
        await new Promise((r) => setTimeout(r, 250));
      }
      const eventsAfter = ((s.controller.get('default', 'step') as Obj).status.revisions[0].scaleEvents ?? []).length;
      expect(eventsAfter).toBe(eventsBefore);
    } finally {
      // Only stop here: an assertion in `finally` would hide the failure that got us here.
      sent = await traffic.stop();
    }
    expect(sent.failed).toBe(0);
    expect(sent.ok).toBeGreaterThan(100);
    await waitUntil('scale back to 0', () => s!.backend.counts(key).ready === 0 && s!.backend.counts(key).desired === 0, 30_000, 200);
  });

  it('never gives a GPU revision more replicas than the inventory holds; excess requests wait and are served', async () => {
    const dir = configFolder({
      'gpu.yaml': service(
        'gpu',
        '    minReplicas: 0\n    maxReplicas: 8\n    containerConcurrency: 1\n',
        { SLUICE_DEMO_LATENCY_MS: '400' },
        { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' },
      ).replace('      env:', '      resources:\n        limits: {nvidia.com/gpu: "1"}\n      env:'),
    });
    s = await startTestSluice(dir, { scaleToZeroGraceSeconds: 1, tickSeconds: 0.5, gpus: 'nvidia.com/gpu=2' });
    const key = 'default/gpu-predictor-00001';
    const backend = s.backend as LocalBackend;
    // Every scale decision the autoscaler applies, seen at the backend's door.
    const scaledTo: number[] = [];
    const scale = backend.scale.bind(backend);
    backend.scale = async (k: string, n: number) => {
      if (k === key) scaledTo.push(n);
      return scale(k, n);
    };
    // On every endpoint event: never more live replicas than GPUs, and each live replica on its own device.
    const devicesSeen = new Set<string>();
    const violations: string[] = [];
    const unsubscribe = backend.subscribe((ev) => {
      if (ev.endpoint.revisionKey !== key) return;
      const c = backend.counts(key);
      if (c.ready + c.starting > 2 || c.desired > 2) violations.push(`${ev.type} ${ev.endpoint.id}: ${JSON.stringify(c)}`);
      const devices = backend.replicaProcesses(key).flatMap((p) => {
        try {
          return [/CUDA_VISIBLE_DEVICES=([^\0]*)/.exec(readFileSync(`/proc/${p.pid}/environ`, 'utf8'))?.[1] ?? 'none'];
        } catch {
          return [];
        }
      });
      if (new Set(devices).size !== devices.length) violations.push(`${ev.type} ${ev.endpoint.id}: devices shared ${devices.join(',')}`);
      for (const d of devices) devicesSeen.add(d);
    });
    try {
      const pending = Promise.all(
        Array.from({ length: 32 }, () =>
          fetch(`${s!.dataUrl}/v1/models/gpu:predict`, { method: 'POST', body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }) }).then(async (r) => ({
            status: r.status,
            body: await r.json(),
          })),
        ),
      );
      // 32 × 400 ms is far more than one replica serves before a second one is up.
      await waitUntil('both devices in use', () => devicesSeen.size === 2, 20_000, 50);
      const results = await pending;
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(results.every((r) => JSON.stringify(r.body) === '{"predictions":[0]}')).toBe(true);
      expect([...devicesSeen].sort()).toEqual(['0', '1']);
      await waitUntil(
        'the capacity condition in status',
        () => ((s!.controller.get('default', 'gpu') as Obj).status.conditions as Obj[]).find((c) => c.type === 'GpuCapacity'),
        10_000,
        100,
      );
      const cond = ((s.controller.get('default', 'gpu') as Obj).status.conditions as Obj[]).find((c) => c.type === 'GpuCapacity')!;
      expect(cond.reason).toBe('InsufficientGPU');
      expect(cond.message).toMatch(/only 2 fit/);
      const metrics = await (await fetch(`${s.metricsUrl}/metrics`)).text();
      expect(metricValue(metrics, 'sluice_gpu_capacity_limited', { namespace: 'default', service: 'gpu', revision: 'gpu-predictor-00001' })).toBe(1);
    } finally {
      unsubscribe();
    }
    expect(violations).toEqual([]);
    expect(scaledTo.length).toBeGreaterThan(0);
    expect(Math.max(...scaledTo)).toBeLessThanOrEqual(2);
  });
});
