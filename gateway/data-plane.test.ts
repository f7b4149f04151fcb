import { describe, expect, it } from 'vitest';
import { waitUntil } from '../test/support/wait.js';
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

  it('once builds are expensive, a burst spread over awaits (10,000 services applied one by one) builds once when the burst yields', async () => {
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
    await waitUntil('the burst built', () => !holder.stale); // after the spacing that follows an expensive build
    expect(b.calls()).toBe(2);
  });

  it('with expensive builds and a change every turn (applies that each wait for I/O), rebuilding takes at most about a fifth of the time', async () => {
    const holder = new SnapshotHolder(snapshot(0));
    const b = builder(2);
    const started = performance.now();
    for (let i = 0; i < 200; i++) {
      holder.invalidate(b.build);
      await nextTurn();
    }
    await waitUntil('the last change built without any reader', () => !holder.stale);
    const elapsed = performance.now() - started;
    // Each build costs ≥ 2 ms and is followed by ≥ 4× its duration without one: at most one per 10 ms, plus the first.
    const built = b.calls();
    expect(built).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 10));
    expect(built).toBeGreaterThanOrEqual(2);
    expect(holder.current.routes.version).toBe(built);
    expect(b.calls()).toBe(built);
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
