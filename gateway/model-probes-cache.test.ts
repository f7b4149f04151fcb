/**
 * The metadata ModelProbes keeps, on a real socket: a stand-in "forward" writes the runtime's answer the way the
 * forwarder does (writeHead, write, end) whenever the probe is not answered at the gateway.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { buildRouteTable } from './route-table.js';
import type { DataPlaneSnapshot, RevisionView } from './data-plane.js';
import { ModelProbes, type ModelProbeLimits } from './model-probes.js';

const rev = (over: Partial<RevisionView> = {}): RevisionView => ({
  key: 'default/iris-predictor-00001',
  namespace: 'default',
  service: 'iris',
  name: 'iris-predictor-00001',
  timeoutMs: 1_000,
  modelName: 'iris',
  runtimeModelName: 'iris',
  failed: null,
  proven: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  batcher: null,
  containerConcurrency: 0,
  ...over,
});
const snapOf = (...views: RevisionView[]): DataPlaneSnapshot => ({
  routes: buildRouteTable([], 'example.com', 1),
  revisions: new Map(views.map((v) => [v.key, v])),
});

interface World {
  url: string;
  probes: ModelProbes;
  /** What the gateway knows now. */
  state: { snap: DataPlaneSnapshot; rev: RevisionView; warm: boolean; body: string };
  forwarded: number;
}

let server: Server | null = null;
afterEach(() => {
  server?.close();
  server?.closeAllConnections();
  server = null;
});

async function world(limits: ModelProbeLimits = {}): Promise<World> {
  const r = rev();
  const w: World = { url: '', probes: new ModelProbes(limits), state: { snap: snapOf(r), rev: r, warm: true, body: '{"name":"iris","v":1}' }, forwarded: 0 };
  server = createServer((req, res) => {
    const { snap, rev: view, warm, body } = w.state;
    if (w.probes.answer(req, res, snap, view, req.url ?? '/', warm)) return;
    w.forwarded++;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.write(body.slice(0, 5));
    res.end(body.slice(5));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  w.url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  return w;
}

const get = async (w: World, path: string) => {
  const r = await fetch(`${w.url}${path}`);
  return { status: r.status, by: r.headers.get('x-sluice-answered-by'), type: r.headers.get('content-type'), text: await r.text() };
};

describe('ModelProbes metadata', () => {
  it('keeps the first warm answer, byte for byte with its content type, and answers from it at zero', async () => {
    const w = await world();
    expect(await get(w, '/v2/models/iris')).toMatchObject({ status: 200, by: null, text: '{"name":"iris","v":1}' });
    w.state.body = '{"name":"iris","v":2}';
    w.state.warm = false;
    expect(await get(w, '/v2/models/iris')).toEqual({ status: 200, by: 'gateway', type: 'application/json; charset=utf-8', text: '{"name":"iris","v":1}' });
    expect(w.forwarded).toBe(1);
    // Another version was never seen: forwarded (it wakes the revision), then kept too.
    expect(await get(w, '/v2/models/iris/versions/2')).toMatchObject({ by: null, text: '{"name":"iris","v":2}' });
    expect(await get(w, '/v2/models/iris/versions/2')).toMatchObject({ by: 'gateway', text: '{"name":"iris","v":2}' });
    expect(w.forwarded).toBe(2);
  });

  it('never keeps an answer over maxBodyBytes: such a model is asked every time', async () => {
    const w = await world({ maxBodyBytes: 10 });
    await get(w, '/v2/models/iris');
    w.state.warm = false;
    expect(await get(w, '/v2/models/iris')).toMatchObject({ by: null });
    expect(w.forwarded).toBe(2);
    expect(w.probes.size).toBe(0);
  });

  it('keeps at most maxVersionsPerRevision versions and maxRevisions revisions', async () => {
    const w = await world({ maxVersionsPerRevision: 2, maxRevisions: 2 });
    for (const v of ['1', '2', '3']) await get(w, `/v2/models/iris/versions/${v}`);
    w.state.warm = false;
    expect((await get(w, '/v2/models/iris/versions/2')).by).toBe('gateway');
    expect((await get(w, '/v2/models/iris/versions/3')).by).toBeNull();
    w.state.warm = true;
    const others = ['a', 'b'].map((n) => rev({ key: `default/${n}-predictor-00001`, name: `${n}-predictor-00001`, modelName: n }));
    w.state.snap = snapOf(w.state.rev, ...others);
    for (const o of others) {
      w.state.rev = o;
      await get(w, `/v2/models/${o.modelName}`);
    }
    expect(w.probes.size).toBe(2);
  });

  it('drops a revision with the snapshot that no longer has it, and one made again under the same name', async () => {
    const w = await world();
    await get(w, '/v2/models/iris');
    expect(w.probes.size).toBe(1);
    const other = rev({ key: 'default/other-predictor-00001', name: 'other-predictor-00001', modelName: 'other' });
    w.state = { ...w.state, snap: snapOf(other), rev: other, warm: false };
    await get(w, '/v2/models/other/ready');
    expect(w.probes.size).toBe(0);

    await get(w, '/v2/models/other');
    w.state.warm = false;
    expect((await get(w, '/v2/models/other')).by).toBe('gateway');
    const again = { ...other, createdAt: '2026-02-01T00:00:00.000Z' };
    w.state = { ...w.state, snap: snapOf(again), rev: again };
    expect((await get(w, '/v2/models/other')).by).toBeNull();
  });

  it('keeps nothing from a HEAD', async () => {
    const w = await world();
    await fetch(`${w.url}/v2/models/iris`, { method: 'HEAD' });
    expect(w.probes.size).toBe(0);
  });
});
