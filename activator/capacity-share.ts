/**
 * How the gateways of a set (worker processes of one `sluice serve --workers N`, or the gateways of a cluster)
 * split one revision's capacity so that all of them together never exceed a replica's `containerConcurrency`.
 *
 * Every gateway computes the same answer from the same inputs (the sorted member ids, the revision's sorted
 * replica ids, `containerConcurrency` and a rotation offset), so no gateway needs to ask another what it may
 * take. The Activator applies the answer through a hand-over that never overlaps (activator/share-view.ts).
 *
 * - containerConcurrency 0 (unbounded): nothing to split; every gateway may use every replica.
 * - at least as many replicas as gateways: each replica belongs whole to one gateway (replica i to gateway
 *   i mod G, counted from the rotation offset), so a gateway's requests never contend with another's on a replica.
 * - fewer replicas than gateways: each replica's slots are split, ⌊cc/G⌋ each, and the remainder goes one slot
 *   apiece to consecutive gateways starting at a stable index (replica i starts at offset + i·(cc mod G)), so the
 *   extras of different replicas land on different gateways and the sum over gateways is exactly cc.
 *
 * When the revision has fewer slots in total than there are gateways (replicas × cc < G, e.g. one replica at
 * cc = 1 and two workers), some gateways get no slot at all. The offset then says which gateways hold the slots
 * now; the Activator rotates it toward gateways that hold requests (a turn), see `rotationFor`.
 */

/** A gateway's slot limit per replica, in the order of the replicas given; Infinity = unbounded. */
export type Shares = readonly number[];

export interface ShareInput {
  /** Live gateway ids, sorted, the same list on every gateway. */
  members: readonly string[];
  /** The gateway whose share is wanted. */
  self: string;
  /** The revision's replica ids, sorted. */
  replicas: readonly string[];
  /** containerConcurrency of the revision's replicas; 0 = unbounded. */
  containerConcurrency: number;
  /** Rotation of the assignment (0 … G−1); matters only when the revision has fewer slots than gateways. */
  offset?: number;
}

/**
 * Self's slot limit on each replica. A gateway that is not (yet) among the members gets 0 everywhere: it takes
 * nothing another gateway might have been given.
 */
export function capacityShare(input: ShareInput): Shares {
  const { members, self, replicas } = input;
  const cc = Math.max(0, Math.floor(input.containerConcurrency));
  const r = replicas.length;
  if (cc === 0) return replicas.map(() => Infinity);
  const g = members.length;
  const idx = members.indexOf(self);
  if (idx < 0 || g === 0) return replicas.map(() => 0);
  const offset = mod(Math.floor(input.offset ?? 0), g);
  // Position of self counted from the offset: position p gets what gateway p would get with offset 0.
  const pos = mod(idx - offset, g);
  const out = new Array<number>(r);
  if (r >= g) {
    for (let i = 0; i < r; i++) out[i] = i % g === pos ? cc : 0;
    return out;
  }
  const base = Math.floor(cc / g);
  const rem = cc % g;
  for (let i = 0; i < r; i++) {
    // Replica i's extra slots go to positions start, start+1, … start+rem−1 (mod G).
    const start = mod(i * rem, g);
    out[i] = base + (mod(pos - start, g) < rem ? 1 : 0);
  }
  return out;
}

/** Total slots the revision has (replicas × cc), Infinity when unbounded. */
export function totalSlots(replicaCount: number, containerConcurrency: number): number {
  return containerConcurrency <= 0 ? Infinity : replicaCount * containerConcurrency;
}

/** True when some gateway gets no slot on the revision at all, so the slots must rotate among those that wait. */
export function isScarce(memberCount: number, replicaCount: number, containerConcurrency: number): boolean {
  return replicaCount > 0 && totalSlots(replicaCount, containerConcurrency) < memberCount;
}

/** Whether the gateway at `memberIndex` has any slot under rotation `offset` (scarce revisions only). */
export function hasSlotsAt(memberIndex: number, memberCount: number, replicaCount: number, containerConcurrency: number, offset: number): boolean {
  if (!isScarce(memberCount, replicaCount, containerConcurrency)) return true;
  // In the scarce case base = 0 and the slots cover positions 0 … replicas·cc − 1 counted from the offset.
  return mod(memberIndex - offset, memberCount) < replicaCount * containerConcurrency;
}

/**
 * The next rotation for a scarce revision: the offset that starts the slots at the first member (after the
 * current holders, cyclically) that waits and holds no slot; the current offset when no such member exists.
 */
export function rotationFor(
  members: readonly string[],
  waiting: ReadonlySet<string>,
  replicaCount: number,
  containerConcurrency: number,
  offset: number,
): number {
  const g = members.length;
  if (g === 0 || !isScarce(g, replicaCount, containerConcurrency)) return 0;
  const slots = replicaCount * containerConcurrency;
  const cur = mod(offset, g);
  for (let step = slots; step < slots + g; step++) {
    const i = mod(cur + step, g);
    if (waiting.has(members[i]!) && !hasSlotsAt(i, g, replicaCount, containerConcurrency, cur)) return i;
  }
  return cur;
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}
