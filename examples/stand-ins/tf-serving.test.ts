import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createTfServingStandIn } from './tf-serving.js';

describe('TensorFlow Serving stand-in (REST)', () => {
  let dir: string;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tfs-'));
    for (const [version, bias] of [['1', 0], ['2', 5]] as const) {
      mkdirSync(join(dir, version));
      // Two classes over two features; version 2 biases class 1 so the latest version is observable.
      writeFileSync(join(dir, version, 'weights.json'), JSON.stringify({ coef: [[1, 0], [0, 1]], intercept: [0, bias] }));
    }
    server = createTfServingStandIn({ modelName: 'half', modelBasePath: dir });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (path: string, body: string) =>
    fetch(`${base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('reports the latest version AVAILABLE on the model status path', async () => {
    const res = await fetch(`${base}/v1/models/half`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      model_version_status: [{ version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
    });
  });

  it('answers row-format instances with softmax predictions of the latest version', async () => {
    const res = await post('/v1/models/half:predict', JSON.stringify({ instances: [[0, 0]] }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: number[][] };
    const expected = 1 / (1 + Math.exp(5));
    expect(body.predictions[0]?.[0]).toBeCloseTo(expected, 12);
    expect(body.predictions[0]?.[1]).toBeCloseTo(1 - expected, 12);
  });

  it('answers columnar inputs with outputs', async () => {
    const res = await post('/v1/models/half/versions/2:predict', JSON.stringify({ inputs: [[10, 0]] }));
    expect(res.status).toBe(200);
    expect(Object.keys((await res.json()) as object)).toEqual(['outputs']);
  });

  it('refuses bad requests with TF Serving error shapes and codes', async () => {
    const cases: Array<[Promise<Response>, number, RegExp]> = [
      [post('/v1/models/half:predict', '{not json'), 400, /^JSON Parse error/],
      [post('/v1/models/half:predict', '{"rows": []}'), 400, /Missing 'inputs' or 'instances' key/],
      [post('/v1/models/half:predict', '{"instances": [[1]], "inputs": [[1]]}'), 400, /only one of 'inputs' or 'instances'/],
      [post('/v1/models/half:predict', '{"instances": [[1, 2, 3]]}'), 400, /list of 2 numbers/],
      [post('/v1/models/other:predict', '{"instances": [[1, 2]]}'), 404, /Servable not found for request: Latest\(other\)/],
      [fetch(`${base}/v1/models/half/versions/7`), 404, /Specific\(half, 7\)/],
      [fetch(`${base}/v2/health/ready`), 404, /Malformed request/],
    ];
    for (const [pending, status, message] of cases) {
      const res = await pending;
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: string };
      expect(Object.keys(body)).toEqual(['error']);
      expect(body.error).toMatch(message);
    }
  });
});
