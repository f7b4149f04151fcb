import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revisionsCommand, sendTrafficCommand, commandFromFlags } from '../cli/traffic-commands.js';
import { FakeClock } from '../core/clock.js';
import { silentLogger } from '../core/log.js';
import { controllerHarness, isvc, type Harness } from '../test/support/controller-harness.js';
import { createAdminServer } from './admin-api.js';
import { RuntimeRegistry } from './runtime-registry.js';

const R1 = 'iris-predictor-00001';
const R2 = 'iris-predictor-00002';
const R3 = 'iris-predictor-00003';
const TOKEN = 'traffic-api-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

describe('traffic commands through the admin API and the CLI', () => {
  let h: Harness;
  let server: ReturnType<typeof createAdminServer>;
  let base: string;
  let out: string[] = [];
  let err: string[] = [];
  const io = { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) };

  const split = (): Record<string, number> => {
    const r: Record<string, number> = {};
    for (const t of h.snapshot.current.routes.byName.get('default/iris')!.targets) r[t.revisionName] = (r[t.revisionName] ?? 0) + t.percent;
    return r;
  };
  const run = async (args: Parameters<typeof commandFromFlags>[0]): Promise<string> => {
    out = [];
    await sendTrafficCommand(io, 'iris', commandFromFlags(args), { server: base, token: TOKEN });
    return out.join('');
  };

  beforeAll(async () => {
    h = controllerHarness();
    for (let v = 1; v <= 3; v++) {
      await h.controller.apply(isvc('iris', `gs://m/v${v}`), 'api');
      h.backend.markReady(`default/iris-predictor-0000${v}`);
    }
    server = createAdminServer({
      controller: h.controller,
      runtimes: new RuntimeRegistry({ clock: new FakeClock() }),
      logger: silentLogger(),
      ready: () => true,
      access: { token: TOKEN, allowedHosts: new Set() },
      maxBodyBytes: 1024 * 1024,
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server?.close();
    h?.controller.stop();
  });

  it('--to-revisions sets an explicit split and keeps it in the stored spec without a new revision', async () => {
    expect(await run({ toRevisions: `${R2}=90,${R3}=10` })).toBe(
      `inferenceservice.serving.kserve.io/iris traffic: ${R2}=90%, ${R3}=10%\n`,
    );
    expect(split()).toEqual({ [R2]: 90, [R3]: 10 });
    const obj = h.controller.get('default', 'iris')!;
    expect(obj.spec.predictor).toMatchObject({ traffic: [{ revisionName: R2, percent: 90 }, { revisionName: R3, percent: 10 }] });
    expect(h.controller.revisionsOf('default', 'iris')!.length).toBe(3);
  });

  it('a bad split is refused with a clear error and the current split stays', async () => {
    await expect(run({ toRevisions: `${R2}=80,${R3}=10` })).rejects.toThrow(`percents must sum to 100, got 90 (${R2}=80,${R3}=10)`);
    await expect(run({ toRevisions: `iris-predictor-00009=100` })).rejects.toThrow(
      `revision "iris-predictor-00009" does not exist; revisions: ${R1}, ${R2}, ${R3} (or LATEST)`,
    );
    expect(() => commandFromFlags({ toRevisions: 'a=1', canary: 5 })).toThrow(/exactly one of/);
    expect(split()).toEqual({ [R2]: 90, [R3]: 10 });
  });

  it('--tag names a revision at 0 % and --remove-tag drops it; tags survive a split change', async () => {
    await run({ tag: `old=${R1}` });
    expect(h.snapshot.current.routes.byName.get('default/iris')!.targets.find((t) => t.tag === 'old')).toMatchObject({ revisionName: R1, percent: 0 });
    expect(h.snapshot.current.routes.byHost.get('old-iris.default.example.com')?.tag).toBe('old');
    await run({ toRevisions: `${R3}=100` });
    expect(split()).toEqual({ [R3]: 100, [R1]: 0 });
    await run({ removeTag: 'old' });
    expect(split()).toEqual({ [R3]: 100 });
    await expect(run({ removeTag: 'old' })).rejects.toThrow('no tag "old" to remove; tags: none');
  });

  it('--canary, rollback and promote follow KServe semantics; revisions prints the table', async () => {
    // Back to KServe's model: latest at 100 %, rolled out.
    await run({ toLatest: true });
    expect(split()).toEqual({ [R3]: 100 });
    // As in KServe: a canary percent on an already rolled-out latest splits it with the previous rolled-out one.
    expect(await run({ canary: 10 })).toMatch(/traffic: iris-predictor-00003=10%, iris-predictor-00002=90% \(tag prev\)/);
    out = [];
    await sendTrafficCommand(io, 'iris', { op: 'rollback' }, { server: base, token: TOKEN });
    const p = (h.controller.get('default', 'iris') as unknown as { status: { components: { predictor: Record<string, unknown> } } }).status.components.predictor;
    expect(p).toMatchObject({ latestRolledoutRevision: R2, traffic: [{ revisionName: R3, percent: 0 }, { revisionName: R2, percent: 100, tag: 'prev' }] });
    expect(split()).toEqual({ [R3]: 0, [R2]: 100 });
    out = [];
    await revisionsCommand(io, 'iris', { server: base, token: TOKEN });
    const lines = out.join('').trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REVISION\s+TRAFFIC\s+TAGS\s+READY\s+ROLLOUT\s+CREATED$/);
    expect(lines[1]).toMatch(new RegExp(`^${R3}\\s+0%\\s+-\\s+1/1\\s+-\\s+\\d+[smhd]$`));
    // KServe's status names R2 both latest and previous rolled-out after the rollback; the table says rolled-out once.
    expect(lines[2]).toMatch(new RegExp(`^${R2}\\s+100%\\s+prev\\s+1/1\\s+rolled-out\\s+\\d+[smhd]$`));
    out = [];
    await sendTrafficCommand(io, 'iris', { op: 'promote' }, { server: base, token: TOKEN });
    expect(split()).toEqual({ [R3]: 100 });
  });

  it('GET …/revisions returns each revision with its exact spec', async () => {
    const r = await fetch(`${base}/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/iris/revisions`, { headers: auth });
    const body = (await r.json()) as { items: Array<{ name: string; spec: { model: { storageUri: string } } }> };
    expect(body.items.map((i) => [i.name, i.spec.model.storageUri])).toEqual([
      [R1, 'gs://m/v1'],
      [R2, 'gs://m/v2'],
      [R3, 'gs://m/v3'],
    ]);
    const bad = await fetch(`${base}/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/iris/traffic`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: '{"op":"nope"}',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/unknown traffic op "nope"/);
  });
});
