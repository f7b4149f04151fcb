import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import type { Stage } from '../../gateway/stage.js';
import { configFolder, demoService, startTestSluice } from '../support/embedded.js';

const KEY = 'default/iris-predictor-00001';
// At zero from the start, scaled on requests per second: one refused request counted as demand would wake it.
const ZERO = { 'autoscaling.knative.dev/initial-scale': '0', 'autoscaling.knative.dev/window': '6s' };
const RPS = '    minReplicas: 0\n    scaleMetric: rps\n    scaleTarget: 1\n';

/** Pids of this process's children (Linux /proc): the local backend's replica processes would be here. */
function childPids(): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function metric(text: string, name: string, labels: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('a stage that short-circuits (through the real embedded stack)', () => {
  let sluice: Embedded;
  let childrenBefore: number[];

  // The demonstration stage: a revision with no replica gets 429 instead of a cold start.
  const refuseAtZero: Stage = {
    name: 'test-refuse-at-zero',
    onRouted(ex) {
      const c = sluice.backend.counts(ex.rev!.key);
      if (c.ready + c.starting === 0) return { status: 429, message: `revision ${ex.rev!.name} is at zero; not waking it`, headers: { 'retry-after': '30' } };
      return undefined;
    },
  };

  beforeAll(async () => {
    const dir = configFolder({ 'iris.yaml': demoService('iris', { annotations: ZERO, predictor: RPS }) });
    childrenBefore = childPids();
    sluice = await startTestSluice(dir, { tickSeconds: 0.5 }, undefined, { extraStages: [refuseAtZero] });
  });

  afterAll(async () => {
    await sluice?.close();
  });

  it('answers 429 for a revision at zero: the revision stays at zero, is not demand, and no replica process starts', async () => {
    expect(sluice.backend.counts(KEY)).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, () =>
        fetch(`${sluice.dataUrl}/v1/models/iris:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) }),
      ),
    );
    for (const a of answers) {
      expect(a.status).toBe(429);
      expect(a.headers.get('retry-after')).toBe('30');
      expect(await a.json()).toEqual({ error: 'revision iris-predictor-00001 is at zero; not waking it' });
    }

    // Demand reaches the autoscaler through the collector's 1 s buckets, flushed every second. Once the seconds
    // of the refusals are flushed (2.5 s), a decision sees whatever was counted: 20 rps against a target of 1
    // would scale the revision up. A negative outcome can only be checked after that window.
    await new Promise((r) => setTimeout(r, 2500));
    await sluice.autoscaler.tick();
    await sluice.autoscaler.tick();

    expect(sluice.backend.counts(KEY)).toMatchObject({ desired: 0, ready: 0, starting: 0 });
    expect(sluice.autoscaler.status(KEY)).toMatchObject({ desiredReplicas: 0, readyReplicas: 0, startingReplicas: 0 });
    expect(childPids().filter((p) => !childrenBefore.includes(p))).toEqual([]);

    // Counted exactly once each, by code; nothing in flight, held, or cold-started.
    const text = await (await fetch(`${sluice.metricsUrl}/metrics`)).text();
    const rev = 'namespace="default",service="iris",revision="iris-predictor-00001"';
    expect(metric(text, 'sluice_requests_total', `${rev},code="429"`)).toBe(20);
    expect(metric(text, 'sluice_inflight_requests', rev)).toBe(0);
    expect(metric(text, 'sluice_cold_starts_total', rev) ?? 0).toBe(0);
    expect(metric(text, 'sluice_autoscaler_stable_concurrency', rev) ?? 0).toBe(0);
  });
});
