import { describe, expect, it } from 'vitest';
import { FakeClock } from '../core/clock.js';
import { createLogger } from '../core/log.js';
import type { GatewayMembership } from '../core/membership.js';
import { oneRevisionActivator } from '../test/support/departing-gateway.js';
import { IN_FLIGHT_IDLE_MS, type Activator, type Lease } from './activator.js';
import { shareView } from './capacity-share.js';

/**
 * The `IN_FLIGHT + key` entries of a gateway's record (core/membership.ts): what lets the others keep a gateway's
 * share out of theirs when it stops heartbeating with requests still running (cluster mode, Redis).
 */
const KEY = 'default/m-predictor-00001';
const LABELS = { namespace: 'default', service: 'm', revision: 'm-predictor-00001' };

function setup(o: { departsByRecord: boolean; cc: number }): { clock: FakeClock; activator: Activator; records: Array<Record<string, string>> } {
  const clock = new FakeClock(1_000_000);
  const records: Array<Record<string, string>> = [];
  // One gateway alone, with a board: it publishes its record and takes every slot.
  const membership: GatewayMembership = {
    self: 'gw-a',
    members: () => ['gw-a'],
    subscribe: () => () => {},
    publish: (r) => records.push({ ...r }),
    states: () => new Map(),
    departsByRecord: o.departsByRecord,
    close: async () => {},
  };
  const activator = oneRevisionActivator({ clock, membership, key: KEY, labels: LABELS, endpoint: { id: `${KEY}#1`, url: 'http://127.0.0.1:1', capacity: o.cc } });
  return { clock, activator, records };
}

const inFlight = (records: Array<Record<string, string>>): string | undefined => records.at(-1)?.[`f:${KEY}`];

function take(clock: FakeClock, activator: Activator, timeoutMs: number): Lease {
  const l = activator.acquire(KEY, { deadlineAt: clock.now() + timeoutMs, bytes: 0 });
  if ('then' in l) throw new Error('expected a slot at once');
  return l;
}

describe('in-flight entries of the published record', () => {
  it('says requests may be in flight from the first one, with the longest timeout, until a second after the last ends', () => {
    const { clock, activator, records } = setup({ departsByRecord: true, cc: 4 });
    expect(inFlight(records)).toBeUndefined();
    const a = take(clock, activator, 300_000);
    expect(inFlight(records)).toBe('300000');
    const published = records.length;
    const b = take(clock, activator, 60_000); // shorter: nothing new to say
    expect(records.length).toBe(published);
    const c = take(clock, activator, 400_000); // longer: said at once
    expect(inFlight(records)).toBe('400000');
    a.release();
    b.release();
    c.release();
    clock.advance(IN_FLIGHT_IDLE_MS - 1);
    expect(inFlight(records)).toBe('400000');
    // A request within the idle second keeps it (no rewrite), and the second counts again from its end.
    const d = take(clock, activator, 1_000);
    clock.advance(10);
    d.release();
    clock.advance(IN_FLIGHT_IDLE_MS - 1);
    expect(inFlight(records)).toBe('400000');
    clock.advance(1);
    expect(inFlight(records)).toBeUndefined();
    expect(records.at(-1)?.[`s:${KEY}`]).toBeDefined(); // the rest of the record stays
  });

  it('is not published for a membership that learns departures itself, nor for an unbounded revision', () => {
    for (const o of [
      { departsByRecord: false, cc: 4 },
      { departsByRecord: true, cc: 0 },
    ]) {
      const { clock, activator, records } = setup(o);
      take(clock, activator, 300_000);
      expect(records.some((r) => Object.keys(r).some((k) => k.startsWith('f:')))).toBe(false);
    }
  });

  it('is dropped with its revision', () => {
    const { clock, activator, records } = setup({ departsByRecord: true, cc: 4 });
    take(clock, activator, 300_000);
    expect(inFlight(records)).toBe('300000');
    activator.removeRevision(KEY);
    expect(inFlight(records)).toBeUndefined();
    clock.advance(IN_FLIGHT_IDLE_MS * 2); // its idle timer is gone with it
  });

  it('a departed gateway\'s share stays out while the board cannot be read (Redis down), as it last was', () => {
    const clock = new FakeClock(1_000_000);
    const id = `${KEY}#1`;
    // gw-x settled on sharing the replica with gw-a (2 slots each), then its lease ran out with requests in flight.
    const settled = shareView({ members: ['gw-a', 'gw-x'], replicas: [id], containerConcurrency: 4, offset: 0, capacities: [4] });
    let board: Map<string, Record<string, string>> | undefined = new Map([['gw-x', { [`s:${KEY}`]: settled, [`f:${KEY}`]: '300000' }]]);
    const listeners = new Set<() => void>();
    const membership: GatewayMembership = {
      self: 'gw-a',
      members: () => ['gw-a'],
      subscribe: (l) => (listeners.add(l), () => listeners.delete(l)),
      publish: () => {},
      states: () => board,
      departed: () => new Map([['gw-x', new Set([KEY])]]),
      departsByRecord: true,
      close: async () => {},
    };
    const activator = oneRevisionActivator({ clock, membership, key: KEY, labels: LABELS, endpoint: { id, url: 'http://127.0.0.1:1', capacity: 4 } });
    const limit = (): number | undefined => activator.replicas(KEY)[0]?.limit;
    expect(limit()).toBe(2);
    // Redis down: no board. Shares then change at once, so handing gw-x's 2 slots to gw-a now could overfill it.
    board = undefined;
    for (const l of listeners) l();
    expect(limit()).toBe(2);
  });

  it('a record the membership refuses (over its size limit) fails no request: logged once, tried again later', () => {
    const clock = new FakeClock(1_000_000);
    const lines: string[] = [];
    let refuse = true;
    let published = 0;
    const membership: GatewayMembership = {
      self: 'gw-a',
      members: () => ['gw-a'],
      subscribe: () => () => {},
      publish: () => {
        if (refuse) throw new Error('gateway membership: a record of 70000 characters is over the limit of 65536');
        published++;
      },
      states: () => new Map(),
      departsByRecord: true,
      close: async () => {},
    };
    const logger = createLogger({ level: 'error', format: 'json', out: { write: (l: string) => (lines.push(l), true) } as unknown as NodeJS.WritableStream });
    const activator = oneRevisionActivator({ clock, membership, key: KEY, labels: LABELS, endpoint: { id: `${KEY}#1`, url: 'http://127.0.0.1:1', capacity: 4 }, logger });
    const a = take(clock, activator, 300_000);
    a.release();
    const b = take(clock, activator, 400_000);
    expect(lines.filter((l) => l.includes('cannot publish')).length).toBe(1);
    expect(lines[0]).toContain('over the limit of 65536');
    refuse = false;
    b.release();
    clock.advance(IN_FLIGHT_IDLE_MS);
    expect(published).toBeGreaterThan(0);
  });
});
