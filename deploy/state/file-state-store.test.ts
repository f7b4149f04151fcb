import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InferenceService } from '../../api/inferenceservice.js';
import { silentLogger } from '../../core/log.js';
import { controllerHarness, isvc, type Harness } from '../../test/support/controller-harness.js';
import { emptyCatalogue, type RuntimeCatalogue } from '../runtime-catalogue.js';
import { FileStateStore } from './file-state-store.js';

const stateDir = (): string => mkdtempSync(join(tmpdir(), 'sluice-state-test-'));

const stores: FileStateStore[] = [];

/**
 * A controller over the state in `dir`, with everything saved there taken back (as embedded mode starts), once
 * the previous controllers' background saves are done (as at a graceful stop).
 */
async function startOver(
  dir: string,
  opts: { maxDeletedRemembered?: number; revisionHistoryLimit?: number; catalogue?: () => RuntimeCatalogue } = {},
): Promise<{ h: Harness; store: FileStateStore }> {
  for (const s of stores.splice(0)) await s.settled();
  const store = new FileStateStore({ dir, logger: silentLogger(), ...(opts.maxDeletedRemembered !== undefined ? { maxDeletedRemembered: opts.maxDeletedRemembered } : {}) });
  stores.push(store);
  const saved = await store.load();
  const h = controllerHarness({
    store,
    ...(opts.revisionHistoryLimit !== undefined ? { revisionHistoryLimit: opts.revisionHistoryLimit } : {}),
    ...(opts.catalogue ? { catalogue: opts.catalogue } : {}),
  });
  for (const s of saved.services) await h.controller.resume(s);
  return { h, store };
}

type Status = {
  metadata: { uid: string; generation: number; creationTimestamp: string };
  status: {
    components: { predictor: { traffic: unknown[]; latestRolledoutRevision?: string; previousRolledoutRevision?: string } };
    rollout?: unknown;
  };
};
const statusOf = (h: Harness, name = 'iris'): Status => h.controller.get('default', name) as unknown as Status;

describe('embedded state directory', () => {
  it('round-trips services: spec, revisions with their content, traffic, tags, rollout bookkeeping', async () => {
    const dir = stateDir();
    const a = await startOver(dir);
    await a.h.controller.apply(isvc('iris', 'gs://m/v1'), 'api');
    a.h.backend.markReady('default/iris-predictor-00001');
    await a.h.controller.apply(isvc('iris', 'gs://m/v2', '    containerConcurrency: 4\n'), 'api');
    a.h.backend.markReady('default/iris-predictor-00002');
    await a.h.controller.updateTraffic('default', 'iris', { op: 'canary', percent: 20 });
    await a.h.controller.updateTraffic('default', 'iris', { op: 'tag', tag: 'candidate', revision: 'iris-predictor-00002' });
    await a.h.controller.apply(isvc('other', 'gs://m/o1'), 'api');
    const before = statusOf(a.h);
    const revsBefore = a.h.controller.revisionsOf('default', 'iris');

    const b = await startOver(dir);
    const after = statusOf(b.h);
    expect(b.h.controller.revisionsOf('default', 'iris')).toEqual(revsBefore);
    expect(after.metadata).toMatchObject({ uid: before.metadata.uid, generation: before.metadata.generation, creationTimestamp: before.metadata.creationTimestamp });
    expect(after.status.components.predictor).toEqual(before.status.components.predictor);
    expect(after.status.components.predictor.traffic).toEqual(
      expect.arrayContaining([expect.objectContaining({ tag: 'candidate', revisionName: 'iris-predictor-00002' }), expect.objectContaining({ percent: 20 })]),
    );
    expect(b.h.controller.get('default', 'other')).not.toBeNull();
    // The revisions are handed to the backend again, so they can scale.
    expect([...b.h.backend.applied.values()].map((r) => r.name)).toEqual(expect.arrayContaining(['iris-predictor-00001', 'iris-predictor-00002', 'other-predictor-00001']));

    // A rollback survives too.
    await b.h.controller.updateTraffic('default', 'iris', { op: 'rollback' });
    const rolledBack = statusOf(b.h).status.components.predictor;
    const c = await startOver(dir);
    expect(statusOf(c.h).status.components.predictor).toEqual(rolledBack);
  });

  it('round-trips a transformer: its revisions, its canary and its rolled-out revisions', async () => {
    const dir = stateDir();
    const withTransformer = (image: string, canary?: number): InferenceService => {
      const base = isvc('iris', 'gs://m/v1', '    minReplicas: 0\n');
      const transformer = { containers: [{ name: 'kserve-container', image, args: [], env: [], resources: { requests: {}, limits: {} } }], ...(canary === undefined ? {} : { canaryTrafficPercent: canary }) };
      return { ...base, spec: { ...base.spec, transformer } } as InferenceService;
    };
    const a = await startOver(dir);
    await a.h.controller.apply(withTransformer('me/t:1'), 'api');
    for (const r of ['iris-predictor-00001', 'iris-transformer-00001']) a.h.backend.markReady(`default/${r}`);
    await a.h.controller.apply(withTransformer('me/t:2', 10), 'api');
    a.h.backend.markReady('default/iris-transformer-00002');
    const before = a.h.controller.get('default', 'iris') as unknown as { status: { components: Record<string, unknown> } };
    expect(before.status.components.transformer).toMatchObject({ latestRolledoutRevision: 'iris-transformer-00001' });

    const b = await startOver(dir);
    const after = b.h.controller.get('default', 'iris') as unknown as { status: { components: Record<string, unknown> } };
    expect(after.status.components.transformer).toEqual(before.status.components.transformer);
    expect(b.h.controller.revisionsOf('default', 'iris')!.map((r) => r.name)).toEqual(['iris-predictor-00001', 'iris-transformer-00001', 'iris-transformer-00002']);
    // The same spec again makes nothing new.
    expect((await b.h.controller.apply(withTransformer('me/t:2', 10), 'api')).newRevision).toBeNull();
    expect(b.h.controller.revisionsOf('default', 'iris')!.length).toBe(3);
  });

  it('round-trips a transformer\'s rollout: a rolled-back transformer rollout stays rolled back after a restart', async () => {
    const dir = stateDir();
    const withPolicy = (image: string): InferenceService => {
      const base = isvc('iris', 'gs://m/v1', '    minReplicas: 0\n');
      const transformer = {
        containers: [{ name: 'kserve-container', image, args: [], env: [], resources: { requests: {}, limits: {} } }],
        rollout: { steps: [10, 50], dwellSeconds: 60, maxErrorRateDelta: 0.05, maxP99Ratio: 1.5, minRequests: 50 },
      };
      return { ...base, spec: { ...base.spec, transformer } } as InferenceService;
    };
    const a = await startOver(dir);
    await a.h.controller.apply(withPolicy('me/t:1'), 'api');
    for (const r of ['iris-predictor-00001', 'iris-transformer-00001']) a.h.backend.markReady(`default/${r}`);
    await a.h.controller.apply(withPolicy('me/t:2'), 'api');
    a.h.backend.markReady('default/iris-transformer-00002');
    await a.h.controller.updateTraffic('default', 'iris', { op: 'rollback' }, 'transformer');
    type T = { status: { components: Record<string, { rollout?: unknown; traffic: unknown[] }> } };
    const before = (a.h.controller.get('default', 'iris') as unknown as T).status.components.transformer!;
    expect(before.rollout).toMatchObject({ phase: 'RolledBack', revision: 'iris-transformer-00002', message: 'rollback by user' });

    const b = await startOver(dir);
    const after = (b.h.controller.get('default', 'iris') as unknown as T).status.components.transformer!;
    expect(after.rollout).toEqual(before.rollout);
    expect(after.traffic).toEqual(before.traffic);
  });

  it('a restored revision keeps its name and content when the runtime catalogue changed meanwhile', async () => {
    const dir = stateDir();
    const a = await startOver(dir);
    await a.h.controller.apply(isvc('iris', 'gs://m/v1'), 'api');
    const before = a.h.controller.revisionsOf('default', 'iris');
    // The runtime it was made with is gone from the catalogue: nothing is re-resolved.
    const b = await startOver(dir, { catalogue: () => emptyCatalogue() });
    expect(b.h.controller.revisionsOf('default', 'iris')).toEqual(before);
    expect(before![0]!.runtime.name).toBe('kserve-sklearnserver');
  });

  it('restored revisions no route reaches stay at zero whatever their minReplicas', async () => {
    const dir = stateDir();
    const a = await startOver(dir);
    for (const v of [1, 2]) {
      await a.h.controller.apply(isvc('iris', `gs://m/v${v}`, '    minReplicas: 1\n'), 'api');
      a.h.backend.markReady(`default/iris-predictor-0000${v}`);
    }
    const b = await startOver(dir);
    for (let i = 0; i < 3; i++) {
      b.h.clock.advance(2_000);
      await b.h.autoscaler.tick();
    }
    expect(b.h.autoscaler.status('default/iris-predictor-00002')?.desiredReplicas).toBe(1);
    expect(b.h.autoscaler.status('default/iris-predictor-00001')?.desiredReplicas ?? 0).toBe(0);
  });

  it('ignores and deletes a torn temp file, and reads the last complete file', async () => {
    const dir = stateDir();
    const a = await startOver(dir);
    await a.h.controller.apply(isvc('iris', 'gs://m/v1'), 'api');
    const nsDir = join(dir, 'services', 'default');
    const good = readFileSync(join(nsDir, 'iris.json'), 'utf8');
    // A crash in the middle of the next write leaves half a temp file beside the complete one.
    writeFileSync(join(nsDir, `iris.json.999.7.tmp`), good.slice(0, good.length / 2));
    writeFileSync(join(nsDir, `new.json.999.8.tmp`), '{"format":"sluice.dev/state/v1","kind":"serv');
    const store = new FileStateStore({ dir, logger: silentLogger() });
    const loaded = await store.load();
    expect(loaded.tempFilesRemoved).toBe(2);
    expect(loaded.services.map((s) => s.name)).toEqual(['iris']);
    expect(readdirSync(nsDir)).toEqual(['iris.json']);
  });

  it('refuses to start from a damaged state file, naming it', async () => {
    const dir = stateDir();
    const a = await startOver(dir);
    await a.h.controller.apply(isvc('iris', 'gs://m/v1'), 'api');
    const file = join(dir, 'services', 'default', 'iris.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"uid":', '"uidx":'));
    await expect(new FileStateStore({ dir, logger: silentLogger() }).load()).rejects.toThrow(`state file ${file}: service.uid: Required`);
  });

  it('never goes back on a revision number: after the history limit, a restart, or delete and re-create', async () => {
    const dir = stateDir();
    const a = await startOver(dir, { revisionHistoryLimit: 1 });
    for (let v = 1; v <= 4; v++) {
      await a.h.controller.apply(isvc('iris', `gs://m/v${v}`), 'api');
      a.h.backend.markReady(`default/iris-predictor-0000${v}`);
    }
    expect(a.h.controller.revisionsOf('default', 'iris')!.map((r) => r.generation)).toEqual([2, 3, 4]);
    await a.h.controller.delete('default', 'iris');
    // Re-created in the same process: the next number, not 00001.
    expect((await a.h.controller.apply(isvc('iris', 'gs://m/other'), 'api')).newRevision).toBe('iris-predictor-00005');
    await a.h.controller.delete('default', 'iris');

    const b = await startOver(dir);
    expect(b.h.controller.get('default', 'iris')).toBeNull();
    expect((await b.h.controller.apply(isvc('iris', 'gs://m/again'), 'api')).newRevision).toBe('iris-predictor-00006');
    const c = await startOver(dir);
    expect((await c.h.controller.apply(isvc('iris', 'gs://m/next'), 'api')).newRevision).toBe('iris-predictor-00007');
  });

  it('remembers a bounded number of deleted services, the newest', async () => {
    const dir = stateDir();
    const a = await startOver(dir, { maxDeletedRemembered: 1 });
    await a.h.controller.apply(isvc('one', 'gs://m/v1'), 'api');
    await a.h.controller.apply(isvc('two', 'gs://m/v1'), 'api');
    await a.h.controller.delete('default', 'one');
    await a.h.controller.delete('default', 'two');
    expect(readdirSync(join(dir, 'services', 'default'))).toEqual(['two.json']);
    const b = await startOver(dir, { maxDeletedRemembered: 1 });
    expect((await b.h.controller.apply(isvc('two', 'gs://m/v2'), 'api')).newRevision).toBe('two-predictor-00002');
  });

  it('serializes writes of one service and writes the newest state last', async () => {
    const dir = stateDir();
    const { h, store } = await startOver(dir);
    await h.controller.apply(isvc('iris', 'gs://m/v1'), 'api');
    const before = store.files.stats.files;
    await Promise.all(Array.from({ length: 50 }, (_, i) => h.controller.apply(isvc('iris', 'gs://m/v1', '', { n: String(i) }), 'api')));
    // Coalesced: one running, one waiting with the newest content.
    expect(store.files.stats.files - before).toBeLessThanOrEqual(3);
    const saved = (await new FileStateStore({ dir, logger: silentLogger() }).load()).services[0]!;
    expect(saved.object.metadata.annotations).toEqual({ n: '49' });
  });
});
