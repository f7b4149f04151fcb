import { describe, expect, it } from 'vitest';
import { SnapshotHolder, type DataPlaneSnapshot } from './data-plane.js';
import { buildRouteTable } from './route-table.js';

function snapshot(version: number): DataPlaneSnapshot {
  return { routes: buildRouteTable([], 'example.com', version), revisions: new Map() };
}

/** A builder that counts its calls and, optionally, takes `costMs` of CPU like a large route table. */
function builder(costMs = 0): { build: () => DataPlaneSnapshot; calls: () => number } {
  let calls = 0;
  return {
    build: () => {
      calls++;
      const until = performance.now() + costMs;
      while (performance.now() < until) {
        // busy, as a rebuild over thousands of services is
      }
      return snapshot(calls);
    },
    calls: () => calls,
  };
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('SnapshotHolder: the route table is rebuilt when a change arrives, not on the next request', () => {
  it('builds right after the change, with no reader; a later reader (a request) builds nothing', async () => {
    const holder = new SnapshotHolder(snapshot(0));
    const b = builder();
    holder.invalidate(b.build);
    expect(b.calls()).toBe(0);
    await nextTurn();
    expect(b.calls()).toBe(1);
    expect(holder.current.routes.version).toBe(1);
    expect(b.calls()).toBe(1);
  });

  it('coalesces a burst of changes in one turn into one build', async () => {
    const holder = new SnapshotHolder(snapshot(0));
    const b = builder();
    for (let i = 0; i < 1000; i++) holder.invalidate(b.build);
    await nextTurn();
    expect(b.calls()).toBe(1);
  });

  it('once builds are expensive, a burst spread over awaits (10,000 services applied one by one) still builds once per turn', async () => {
    const holder = new SnapshotHolder(snapshot(0));
    const b = builder(2);
    holder.invalidate(b.build);
    await nextTurn(); // the first build shows the holder that builds cost ms
    expect(b.calls()).toBe(1);
    for (let i = 0; i < 500; i++) {
      holder.invalidate(b.build);
      await Promise.resolve();
      await Promise.resolve();
    }
    expect(b.calls()).toBe(1);
    await nextTurn();
    expect(b.calls()).toBe(2);
  });

  it('a reader in the same turn as the change sees it (built once, then not again)', async () => {
    const holder = new SnapshotHolder(snapshot(0));
    const b = builder();
    holder.invalidate(b.build);
    expect(holder.current.routes.version).toBe(1);
    await nextTurn();
    expect(b.calls()).toBe(1);
  });

  it('a published snapshot replaces a pending rebuild', async () => {
    const holder = new SnapshotHolder(snapshot(0));
    const b = builder();
    holder.invalidate(b.build);
    holder.publish(snapshot(7));
    await nextTurn();
    expect(b.calls()).toBe(0);
    expect(holder.current.routes.version).toBe(7);
  });
});
