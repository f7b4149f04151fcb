import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import type { Embedded } from '../../cli/embedded.js';
import { parseInferenceService } from '../../api/inferenceservice.js';
import { adminCall, adminHeaders, configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { waitUntil } from '../support/wait.js';

const ZERO = { 'autoscaling.knative.dev/initial-scale': '0' };
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A demo-runtime InferenceService document in `ns`, with an annotation of `padBytes` characters. */
function service(ns: string, name: string, padBytes = 0): Obj {
  const doc = parse(demoService(name, { annotations: ZERO })) as Obj;
  doc.metadata.namespace = ns;
  if (padBytes > 0) doc.metadata.annotations.pad = 'x'.repeat(padBytes);
  return doc;
}

describe('admin API lists: pages, bounded objects, streamed answers', () => {
  let s: Embedded;
  const collection = (ns: string): string => `/apis/serving.kserve.io/v1beta1/namespaces/${ns}/inferenceservices`;
  const call = (method: string, path: string, body?: unknown): Promise<{ status: number; body: Obj }> => adminCall<Obj>(s, method, path, body);
  const create = async (doc: Obj): Promise<void> => {
    await s.controller.apply(parseInferenceService(doc).object, 'api');
  };
  const names = (list: Obj): string[] => list.items.map((i: Obj) => i.metadata.name as string);

  beforeAll(async () => {
    s = await startTestSluice(configFolder({}));
  });
  afterAll(async () => {
    await s?.close();
  });

  it('pages with limit and continue, in name order, stable while services come and go', async () => {
    for (const n of ['p-5', 'p-1', 'p-3', 'p-0', 'p-6', 'p-2', 'p-4']) await create(service('pages', n));
    const first = await call('GET', `${collection('pages')}?limit=3`);
    expect(first.status).toBe(200);
    expect(first.body.kind).toBe('InferenceServiceList');
    expect(names(first.body)).toEqual(['p-0', 'p-1', 'p-2']);
    expect(first.body.metadata.remainingItemCount).toBe(4);
    expect(first.body.items[0].status.url).toMatch(/^http:\/\/p-0\.pages\.example\.com/);
    const token = first.body.metadata.continue as string;
    expect(token).toEqual(expect.any(String));

    // Between pages: the next one is deleted, one is created behind the cursor and one ahead of it.
    await s.controller.delete('pages', 'p-3');
    await create(service('pages', 'p-00'));
    await create(service('pages', 'p-9'));
    const second = await call('GET', `${collection('pages')}?limit=3&continue=${encodeURIComponent(token)}`);
    expect(names(second.body)).toEqual(['p-4', 'p-5', 'p-6']);
    const third = await call('GET', `${collection('pages')}?limit=3&continue=${encodeURIComponent(second.body.metadata.continue)}`);
    expect(names(third.body)).toEqual(['p-9']);
    expect(third.body.metadata.continue).toBeUndefined();

    // No limit: the default page (500) holds them all.
    const all = await call('GET', collection('pages'));
    expect(names(all.body)).toEqual(['p-0', 'p-00', 'p-1', 'p-2', 'p-4', 'p-5', 'p-6', 'p-9']);
    expect(all.body.metadata.continue).toBeUndefined();
  });

  it('refuses a continue token it did not make, one of another list, and a bad limit, with 400', async () => {
    const bad = await call('GET', `${collection('pages')}?continue=not-a-token`);
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/continue token is not valid.*start the list again without continue/);
    const page = await call('GET', `${collection('pages')}?limit=1`);
    const other = await call('GET', `${collection('elsewhere')}?continue=${encodeURIComponent(page.body.metadata.continue)}`);
    expect(other.status).toBe(400);
    expect(other.body.message).toContain(`belongs to the list ${collection('pages')}`);
    const limit = await call('GET', `${collection('pages')}?limit=-2`);
    expect(limit.status).toBe(400);
    expect(limit.body.message).toMatch(/^limit must be a positive integer/);
  });

  it('refuses an InferenceService over maxObjectBytes with 422 naming the limit and the largest field', async () => {
    const big = service('sizes', 'big', 300 * 1024);
    const r = await call('PUT', `${collection('sizes')}/big`, big);
    expect(r.status).toBe(422);
    expect(r.body.message).toContain('maxObjectBytes');
    expect(r.body.details.causes[0].field).toBe('metadata.annotations.pad');
    expect(r.body.details.causes[0].message).toMatch(/over the limit of 262144 bytes \(the setting maxObjectBytes\)/);
    expect(s.controller.get('sizes', 'big')).toBeNull();
    const fits = await call('PUT', `${collection('sizes')}/fits`, service('sizes', 'fits', 200 * 1024));
    expect(fits.status).toBe(201);
  });

  it('streams a long list: a client that stops reading stops the server reading objects; the answer arrives whole', async () => {
    const count = 160;
    for (let i = 0; i < count; i++) await create(service('bulk', `b-${String(i).padStart(3, '0')}`, 200 * 1024));
    const reads = vi.spyOn(s.controller, 'viewForSerialization');
    try {
      const url = new URL(`${s.adminUrl}${collection('bulk')}?limit=1000`);
      const chunks: Buffer[] = [];
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const req = request(url, { headers: adminHeaders(s) }, resolve);
        req.on('error', reject);
        req.end();
      });
      expect(res.statusCode).toBe(200);
      // Not reading: the socket's buffers fill (a few MB of the 32 MB answer) and the server must wait for drain.
      res.pause();
      let last = -1;
      let still = 0;
      await waitUntil('the server to stop reading objects for a client that does not read', () => {
        const n = reads.mock.calls.length;
        still = n === last && n > 0 ? still + 1 : 0;
        last = n;
        return still >= 5;
      }, 30_000, 100);
      expect(reads.mock.calls.length).toBeLessThan(count / 2);
      res.on('data', (c: Buffer) => chunks.push(c));
      await new Promise<void>((resolve, reject) => {
        res.on('end', resolve);
        res.on('error', reject);
        res.resume();
      });
      const list = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj;
      expect(list.items).toHaveLength(count);
      expect(list.items.map((i: Obj) => i.metadata.name)).toEqual(Array.from({ length: count }, (_, i) => `b-${String(i).padStart(3, '0')}`));
      expect(list.items[count - 1].metadata.annotations.pad).toHaveLength(200 * 1024);
      expect(reads.mock.calls.length).toBe(count);
    } finally {
      reads.mockRestore();
    }
  }, 120_000);
});
