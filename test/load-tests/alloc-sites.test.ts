/**
 * load-tests/alloc-sites.ts: bytes per request by the function that allocated them, from a sampling heap profile,
 * and a real profile taken in this process (so a change in V8's format shows here, not in a diagnostic run).
 */
import { Session } from 'node:inspector';
import { describe, expect, it } from 'vitest';
import { allocationSites, type HeapProfileNode } from '../../load-tests/alloc-sites.js';

const node = (functionName: string, url: string, lineNumber: number, selfSize: number, children: HeapProfileNode[] = []): HeapProfileNode => ({
  callFrame: { functionName, url, lineNumber },
  selfSize,
  children,
});

describe('allocationSites', () => {
  it('sums each site over every stack it appears in, per request, largest first', () => {
    const head = node('(root)', '', -1, 0, [
      node('handle', 'file:///work/main/dist/gateway/gateway.js', 168, 1000, [node('wire', 'file:///work/main/dist/gateway/upstream-client.js', 109, 3000)]),
      node('serve', 'file:///work/main/dist/gateway/dispatch.js', 13, 0, [node('wire', 'file:///work/main/dist/gateway/upstream-client.js', 109, 1000)]),
      node('', 'node:net', 968, 500),
    ]);
    const { totalPerRequest, sites } = allocationSites(head, 10);
    expect(totalPerRequest).toBe(550);
    expect(sites).toEqual([
      { site: 'wire gateway/upstream-client.js:110', bytesPerRequest: 400 },
      { site: 'handle gateway/gateway.js:169', bytesPerRequest: 100 },
      { site: '(anonymous) node:net:969', bytesPerRequest: 50 },
    ]);
  });

  it('refuses a request count that is not positive', () => {
    expect(() => allocationSites(node('(root)', '', -1, 0), 0)).toThrow(/requests must be a positive number, got 0/);
  });

  it('reads a profile V8 wrote with collected objects included', async () => {
    const s = new Session();
    s.connect();
    const post = (m: string, p: object = {}): Promise<unknown> => new Promise((res, rej) => s.post(m, p, (e, r) => (e ? rej(e) : res(r))));
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMinorGC: true, includeObjectsCollectedByMajorGC: true });
    let keep = 0;
    // Garbage only: none of these arrays outlives its turn of the loop, so only the collected-objects flags count them.
    for (let i = 0; i < 20_000; i++) keep += new Array(64).fill(i).length;
    const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: { head: HeapProfileNode } };
    s.disconnect();
    expect(keep).toBe(20_000 * 64);
    const { totalPerRequest, sites } = allocationSites(profile.head, 20_000);
    // Each array holds 64 tagged slots (at least 256 bytes with pointer compression); sampling gives about that.
    expect(totalPerRequest).toBeGreaterThan(200);
    expect(sites[0]!.site).toMatch(/alloc-sites\.test\.ts/);
  });
});
