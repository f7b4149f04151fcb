import { describe, expect, it } from 'vitest';
import { capacityShare, hasSlotsAt, isScarce, rotationFor, shareView, slotsOf, viewShare } from './capacity-share.js';
import { seededRandom as rng } from '../test/support/seeded-random.js';


function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, '0')}`).sort();
}

describe('capacityShare', () => {
  it('the sum over gateways of every replica is exactly cc, for random inputs and rotations', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed);
      const members = ids('g', 1 + Math.floor(r() * 9));
      const replicas = ids('r', Math.floor(r() * 12));
      const cc = 1 + Math.floor(r() * 10);
      const offset = Math.floor(r() * 20);
      const per = members.map((self) => capacityShare({ members, self, replicas, containerConcurrency: cc, offset }));
      for (let i = 0; i < replicas.length; i++) {
        const sum = per.reduce((a, s) => a + s[i]!, 0);
        expect(sum, `seed ${seed}: replica ${i} of ${replicas.length}, ${members.length} gateways, cc ${cc}`).toBe(cc);
      }
      // Scarce revisions: exactly replicas·cc gateways hold one slot each; otherwise every gateway has a slot.
      const withSlots = per.filter((s) => s.some((x) => x > 0)).length;
      const slots = replicas.length * cc;
      expect(withSlots, `seed ${seed}`).toBe(isScarce(members.length, slots) ? slots : replicas.length === 0 ? 0 : members.length);
      members.forEach((_, i) => expect(per[i]!.some((x) => x > 0), `seed ${seed} member ${i}`).toBe(replicas.length > 0 && hasSlotsAt(i, members.length, slots, offset)));
    }
  });

  it('assigns replicas whole when there are at least as many replicas as gateways', () => {
    const members = ['a', 'b'];
    const replicas = ['r1', 'r2', 'r3'];
    expect(capacityShare({ members, self: 'a', replicas, containerConcurrency: 4 })).toEqual([4, 0, 4]);
    expect(capacityShare({ members, self: 'b', replicas, containerConcurrency: 4 })).toEqual([0, 4, 0]);
  });

  it('splits a replica floor-plus-remainder when replicas are fewer than gateways', () => {
    const members = ['a', 'b', 'c'];
    const shares = members.map((self) => capacityShare({ members, self, replicas: ['r1', 'r2'], containerConcurrency: 4 }));
    // 4 = 1+1+1 plus one extra: replica 1's extra on a, replica 2's on b (the stable index moves on).
    expect(shares).toEqual([
      [2, 1],
      [1, 2],
      [1, 1],
    ]);
  });

  it('cc = 0 is unbounded: no split; a gateway that is not a member gets nothing', () => {
    expect(capacityShare({ members: ['a', 'b'], self: 'a', replicas: ['r1'], containerConcurrency: 0 })).toEqual([Infinity]);
    expect(capacityShare({ members: ['a', 'b'], self: 'z', replicas: ['r1'], containerConcurrency: 2 })).toEqual([0]);
  });

  it('one replica at cc = 1 and two gateways: one slot, and the rotation moves it to the waiting gateway', () => {
    const members = ['w1', 'w2'];
    const at = (self: string, offset: number) => capacityShare({ members, self, replicas: ['r'], containerConcurrency: 1, offset })[0];
    expect([at('w1', 0), at('w2', 0)]).toEqual([1, 0]);
    const next = rotationFor(members, new Set(['w2']), 1, 0);
    expect(next).toBe(1);
    expect([at('w1', next), at('w2', next)]).toEqual([0, 1]);
    // Nobody without a slot waits: the rotation stays.
    expect(rotationFor(members, new Set(['w1']), 1, 0)).toBe(0);
    expect(rotationFor(members, new Set(), 1, 1)).toBe(1);
  });

  it('with capacities (slots a departed gateway may still use kept out), every replica splits exactly its capacity', () => {
    for (let seed = 1; seed <= 2000; seed++) {
      const r = rng(seed);
      const members = ids('g', 1 + Math.floor(r() * 9));
      const replicas = ids('r', Math.floor(r() * 12));
      const cc = 1 + Math.floor(r() * 10);
      const capacities = replicas.map(() => Math.floor(r() * (cc + 1)));
      const offset = Math.floor(r() * 20);
      const per = members.map((self) => capacityShare({ members, self, replicas, containerConcurrency: cc, offset, capacities }));
      replicas.forEach((_, i) => expect(per.reduce((a, s) => a + s[i]!, 0), `seed ${seed}: replica ${i}`).toBe(capacities[i]));
      // Scarce or not, the members with a slot are those hasSlotsAt names, and a scarce revision's slots go one each.
      const slots = slotsOf({ replicas, containerConcurrency: cc, capacities });
      members.forEach((_, i) => expect(per[i]!.some((x) => x > 0), `seed ${seed} member ${i}`).toBe(slots > 0 && hasSlotsAt(i, members.length, slots, offset)));
      if (isScarce(members.length, slots)) expect(per.filter((s) => s.some((x) => x > 0)).length).toBe(slots);
    }
  });

  it('a replica with less room than the others is split, not given whole', () => {
    // Two gateways, two replicas of cc 4; a departed gateway may still use 2 slots on r1.
    const members = ['a', 'b'];
    const shares = members.map((self) => capacityShare({ members, self, replicas: ['r1', 'r2'], containerConcurrency: 4, capacities: [2, 4] }));
    expect(shares).toEqual([
      [1, 2],
      [1, 2],
    ]);
  });

  it('a view names its shares: anyone can work out what a gateway that settled on it may have in flight', () => {
    const v = { members: ['a', 'b', 'c'], replicas: ['r1', 'r2'], containerConcurrency: 4, offset: 1, capacities: [4, 3] };
    const view = shareView(v);
    for (const self of v.members) {
      const direct = capacityShare({ ...v, self });
      expect(viewShare(view, self)).toEqual(new Map([['r1', direct[0]], ['r2', direct[1]]]));
    }
    expect(viewShare(shareView({ ...v, replicas: [], capacities: [] }), 'a')).toEqual(new Map());
    // Not a view this module made (an older format): nothing, rather than a guess.
    expect(viewShare('a,b|r1|4|0', 'a')).toEqual(new Map());
    expect(viewShare('a,b|r1|x|0|4', 'a')).toEqual(new Map());
  });
});
