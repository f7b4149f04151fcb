import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { configFolder, demoService } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { admin, startServe, type ServeProcess } from '../support/serve-process.js';

const run = promisify(execFile);
const CLI = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');
const N = 500;

const started: ServeProcess[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

async function serve(stateDir: string, args: string[]): Promise<ServeProcess> {
  const p = await startServe(stateDir, args);
  started.push(p);
  return p;
}

const name = (i: number): string => `s-${i}`;
/** The local backend wants the model directory to exist; one per service and version. */
const MODELS = mkdtempSync(join(tmpdir(), 'sluice-models-'));
for (let i = 0; i < N; i++) for (let v = 1; v <= 3; v++) mkdirSync(join(MODELS, String(i), `v${v}`), { recursive: true });
const uri = (i: number, v: number): string => `file://${MODELS}/${i}/v${v}`;
const rev = (i: number, g: number): string => `${name(i)}-predictor-0000${g}`;

/** At zero with no replica started (initial-scale 0): these tests are about state, not processes. */
function spec(i: number, v: number): unknown {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: name(i), namespace: 'default', annotations: { 'autoscaling.knative.dev/initial-scale': '0' } },
    spec: { predictor: { minReplicas: 0, model: { modelFormat: { name: 'sklearn' }, runtime: 'sluice-demo', storageUri: uri(i, v) } } },
  };
}

type Predictor = { canaryTrafficPercent?: number; traffic?: Array<{ tag?: string; revisionName?: string }>; model: { storageUri: string } };
type Isvc = { spec: { predictor: Predictor }; status: { components: { predictor: { latestCreatedRevision: string } } } };

/** How far a service's chain of writes got, read back from its state: 0 absent … 4 every write. */
function stageOf(status: number, body: Record<string, unknown>, i: number): number {
  if (status === 404) return 0;
  const p = (body as unknown as Isvc).spec.predictor;
  if (p.canaryTrafficPercent === 25) return 4;
  if (p.traffic?.some((t) => t.tag === 'stable' && t.revisionName === rev(i, 1))) return 3;
  if (p.model.storageUri === uri(i, 2)) return 2;
  if (p.model.storageUri === uri(i, 1)) return 1;
  throw new Error(`${name(i)} has a state no write made: ${JSON.stringify(p)}`);
}

async function fsyncs(metricsUrl: string): Promise<{ file: number; directory: number }> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const v = (kind: string): number => Number(new RegExp(`^sluice_state_fsyncs_total\\{kind="${kind}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { file: v('file'), directory: v('directory') };
}

describe('embedded state survives a restart of sluice serve', () => {
  it('SIGKILL in the middle of 500 concurrent applies and traffic changes: every acknowledged write is back, nothing half-written, the next revision number is right', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-state-'));
    const config = configFolder({});
    const a = await serve(stateDir, ['--config', config]);

    // 500 concurrent creates, every one acknowledged before the next phase.
    const t0 = performance.now();
    const created = await Promise.all(Array.from({ length: N }, (_, i) => admin(a, 'POST', 'default/inferenceservices', spec(i, 1))));
    const createMs = performance.now() - t0;
    const refused = created.filter((r) => r.status !== 201);
    expect(refused.length, JSON.stringify(refused.slice(0, 3))).toBe(0);
    const createFsyncs = await fsyncs(a.metricsUrl);

    // Then for every service at once: a new spec (revision 00002), a tag, a canary; SIGKILL half-way through.
    const acked = new Array<number>(N).fill(1);
    const sent = new Array<number>(N).fill(1);
    const named = new Map<string, string>([...Array(N).keys()].map((i) => [rev(i, 1), uri(i, 1)]));
    let acks = 0;
    const total = N * 3;
    const chain = async (i: number): Promise<void> => {
      const steps: Array<[string, string, unknown]> = [
        ['PUT', `default/inferenceservices/${name(i)}`, spec(i, 2)],
        ['POST', `default/inferenceservices/${name(i)}/traffic`, { op: 'tag', tag: 'stable', revision: rev(i, 1) }],
        ['POST', `default/inferenceservices/${name(i)}/traffic`, { op: 'canary', percent: 25 }],
      ];
      for (const [k, [method, path, body]] of steps.entries()) {
        if (a.child.exitCode !== null || a.child.signalCode !== null) return;
        sent[i] = k + 2;
        const r = await admin(a, method, path, body).catch(() => null);
        if (r === null) return;
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        acked[i] = k + 2;
        if (k === 0) named.set((r.body as unknown as Isvc).status.components.predictor.latestCreatedRevision, uri(i, 2));
        if (++acks === Math.floor(total / 2)) a.child.kill('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: N }, (_, i) => chain(i)));
    expect(await a.exited).toBeNull();
    expect(a.child.signalCode).toBe('SIGKILL');
    expect(acks).toBeGreaterThanOrEqual(total / 2);
    expect(acks).toBeLessThan(total);
    expect(named.get(rev(0, 2)) ?? uri(0, 2)).toBe(uri(0, 2));

    const b = await serve(stateDir, ['--config', config]);
    const after = await Promise.all(Array.from({ length: N }, (_, i) => admin(b, 'GET', `default/inferenceservices/${name(i)}`)));
    const revisions = await Promise.all(Array.from({ length: N }, (_, i) => admin(b, 'GET', `default/inferenceservices/${name(i)}/revisions`)));
    let partial = 0;
    for (let i = 0; i < N; i++) {
      const stage = stageOf(after[i]!.status, after[i]!.body, i);
      // What was acknowledged is there; at most the one write in flight at the kill is there too.
      expect([acked[i], sent[i]], `${name(i)}: stage ${stage}, acknowledged ${acked[i]}, sent ${sent[i]}`).toContain(stage);
      if (stage !== acked[i]) partial++;
      // Every revision has the content it was made with.
      const items = revisions[i]!.body.items as Array<{ name: string; storageUri: string }>;
      expect(items.map((r) => [r.name, r.storageUri])).toEqual(stage >= 2 ? [[rev(i, 1), uri(i, 1)], [rev(i, 2), uri(i, 2)]] : [[rev(i, 1), uri(i, 1)]]);
    }

    // A new spec takes the next number, never a name already acknowledged for other content.
    const t1 = performance.now();
    const next = await Promise.all(Array.from({ length: N }, (_, i) => admin(b, 'PUT', `default/inferenceservices/${name(i)}`, spec(i, 3))));
    const putMs = performance.now() - t1;
    for (let i = 0; i < N; i++) {
      expect(next[i]!.status).toBe(200);
      const latest = (next[i]!.body as unknown as Isvc).status.components.predictor.latestCreatedRevision;
      expect(latest).toBe(rev(i, stageOf(after[i]!.status, after[i]!.body, i) >= 2 ? 3 : 2));
      expect(named.get(latest) ?? uri(i, 3)).toBe(uri(i, 3));
    }
    const putFsyncs = await fsyncs(b.metricsUrl);
    console.log(
      `state: ${N} concurrent creates ${createMs.toFixed(0)} ms (fsyncs: ${createFsyncs.file} file, ${createFsyncs.directory} directory); ` +
        `${N} concurrent spec changes after restart ${putMs.toFixed(0)} ms (fsyncs: ${putFsyncs.file} file, ${putFsyncs.directory} directory); ` +
        `killed after ${acks}/${total} acknowledged writes, ${partial} unacknowledged writes found durable`,
    );
  }, 180_000);

  it('keeps tags, a canary and a rollback made with the CLI on a file-defined service; a file changed meanwhile wins', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-state-'));
    const atZero = { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } };
    const config = configFolder({ 'iris.yaml': demoService('iris', atZero), 'plain.yaml': demoService('plain', atZero) });
    const sluice = async (s: ServeProcess, ...args: string[]): Promise<string> => (await run(process.execPath, [CLI, ...args, '-s', s.adminUrl, '--state-dir', s.stateDir])).stdout;
    const predictorStatus = async (s: ServeProcess): Promise<unknown> => {
      const r = await admin(s, 'GET', 'default/inferenceservices/iris');
      const o = r.body as { spec: unknown; status: { components: { predictor: unknown } } };
      // URLs name the data port, which is new after each start.
      return JSON.parse(JSON.stringify({ spec: o.spec, predictor: o.status.components.predictor }).replace(/example\.com:\d+/g, 'example.com')) as unknown;
    };

    const a = await serve(stateDir, ['--config', config]);
    // A first revision at initial-scale 0 is ready once it has run: one request makes it the rolled-out revision that
    // a canary splits against.
    const first = await fetch(`${a.dataUrl}/v1/models/iris:predict`, { method: 'POST', body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }) });
    expect(first.status).toBe(200);
    // A second revision through the CLI, then a tag and a canary.
    const v2 = join(mkdtempSync(join(tmpdir(), 'sluice-apply-')), 'iris-v2.yaml');
    writeFileSync(v2, demoService('iris', { ...atZero, env: { VERSION: '2' }, predictor: '    minReplicas: 0\n    canaryTrafficPercent: 10\n' }));
    expect(await sluice(a, 'apply', '-f', v2)).toMatch(/iris configured/);
    await sluice(a, 'traffic', 'iris', '--tag', 'candidate=iris-predictor-00002');
    await sluice(a, 'traffic', 'iris', '--canary', '30');
    // A tag on a service its file still owns (no `apply` over it).
    await sluice(a, 'traffic', 'plain', '--tag', 'pinned=plain-predictor-00001');
    const plainTagged = (await admin(a, 'GET', 'default/inferenceservices/plain')).body.spec;
    const canary = await predictorStatus(a);
    expect(canary).toMatchObject({
      predictor: {
        latestCreatedRevision: 'iris-predictor-00002',
        traffic: expect.arrayContaining([
          expect.objectContaining({ revisionName: 'iris-predictor-00002', percent: 30 }),
          expect.objectContaining({ revisionName: 'iris-predictor-00001', percent: 70 }),
          expect.objectContaining({ tag: 'candidate', revisionName: 'iris-predictor-00002' }),
        ]),
      },
    });
    a.child.kill('SIGKILL');
    await a.exited;

    const b = await serve(stateDir, ['--config', config]);
    expect(await predictorStatus(b)).toEqual(canary);
    expect((await admin(b, 'GET', 'default/inferenceservices/plain')).body.spec).toEqual(plainTagged);
    expect(plainTagged).toMatchObject({ predictor: { traffic: [{ tag: 'pinned', revisionName: 'plain-predictor-00001' }] } });
    await sluice(b, 'rollback', 'iris');
    const rolledBack = await predictorStatus(b);
    expect(rolledBack).toMatchObject({ predictor: { traffic: expect.arrayContaining([expect.objectContaining({ revisionName: 'iris-predictor-00001', percent: 100 })]) } });
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);

    const c = await serve(stateDir, ['--config', config]);
    expect(await predictorStatus(c)).toEqual(rolledBack);
    c.child.kill('SIGTERM');
    await c.exited;

    // The file changed while Sluice was down: the file is the source again, with a new revision number.
    writeFileSync(join(config, 'iris.yaml'), demoService('iris', { ...atZero, env: { VERSION: '3' } }));
    const d = await serve(stateDir, ['--config', config]);
    const fromFile = (await admin(d, 'GET', 'default/inferenceservices/iris')).body as unknown as Isvc & { spec: { predictor: { model: { env: unknown } } } };
    expect(fromFile.spec.predictor.model.env).toEqual([{ name: 'VERSION', value: '3' }]);
    expect(fromFile.spec.predictor.traffic).toBeUndefined();
    expect(fromFile.status.components.predictor.latestCreatedRevision).toBe('iris-predictor-00003');
  }, 120_000);
});
