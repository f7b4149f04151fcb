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
 *
 * A gateway that died with requests in flight (a worker process killed) no longer takes part, but those requests
 * may still run on the replicas for a while. Its slots are then kept out (`capacities`: cc less what it may still
 * use on each replica) and the members split the rest, each replica floor-plus-remainder, since whole replicas
 * no longer have equal room.
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
  /**
   * Slots of each replica (in the order of `replicas`) the members split: containerConcurrency less what
   * departed gateways may still use there. Default: containerConcurrency on every replica.
   */
  capacities?: readonly number[];
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
  const caps = capacitiesOf(input, cc);
  const offset = mod(Math.floor(input.offset ?? 0), g);
  // Position of self counted from the offset: position p gets what gateway p would get with offset 0.
  const pos = mod(idx - offset, g);
  const out = new Array<number>(r);
  if (r >= g && caps.every((c) => c === cc)) {
    for (let i = 0; i < r; i++) out[i] = i % g === pos ? cc : 0;
    return out;
  }
  // Replica i's extra slots go to positions start, start+1, … start+rem−1 (mod G), where start counts the
  // extras of the replicas before it: the extras cover consecutive positions, so those of different replicas
  // land on different gateways (and a scarce revision's slots on positions 0 … slots−1).
  let start = 0;
  for (let i = 0; i < r; i++) {
    const rem = caps[i]! % g;
    out[i] = Math.floor(caps[i]! / g) + (mod(pos - start, g) < rem ? 1 : 0);
    start = mod(start + rem, g);
  }
  return out;
}

/** The slots the members split in all: the sum of the capacities (replicas × cc by default); Infinity when unbounded. */
export function slotsOf(input: Pick<ShareInput, 'replicas' | 'containerConcurrency' | 'capacities'>): number {
  const cc = Math.max(0, Math.floor(input.containerConcurrency));
  if (cc === 0) return Infinity;
  return capacitiesOf(input, cc).reduce((a, c) => a + c, 0);
}

/** True when some gateway gets no slot on the revision at all, so the slots must rotate among those that wait. */
export function isScarce(memberCount: number, slots: number): boolean {
  return slots > 0 && slots < memberCount;
}

/** Whether the gateway at `memberIndex` has any slot under rotation `offset` (scarce revisions only). */
export function hasSlotsAt(memberIndex: number, memberCount: number, slots: number, offset: number): boolean {
  if (!isScarce(memberCount, slots)) return true;
  // In the scarce case every replica's floor is 0 and the slots cover positions 0 … slots − 1 from the offset.
  return mod(memberIndex - offset, memberCount) < slots;
}

/**
 * The next rotation for a scarce revision: the offset that starts the slots at the first member (after the
 * current holders, cyclically) that waits and holds no slot; the current offset when no such member exists.
 */
export function rotationFor(members: readonly string[], waiting: ReadonlySet<string>, slots: number, offset: number): number {
  const g = members.length;
  if (g === 0 || !isScarce(g, slots)) return 0;
  const cur = mod(offset, g);
  for (let step = slots; step < slots + g; step++) {
    const i = mod(cur + step, g);
    if (waiting.has(members[i]!) && !hasSlotsAt(i, g, slots, cur)) return i;
  }
  return cur;
}

/**
 * The view a gateway settles on (published, so the others can tell when everyone has): the members, the replica
 * ids, containerConcurrency, the rotation and the capacities. From it alone, anyone can work out that gateway's
 * share (`viewShare`), which is what it may still have in flight after it died.
 */
export function shareView(v: Required<Omit<ShareInput, 'self'>>): string {
  return `${v.members.join(',')}|${v.replicas.join(',')}|${v.containerConcurrency}|${v.offset}|${v.capacities.join(',')}`;
}

/** `self`'s share on each replica of a view made by `shareView`, by replica id; empty for a string it did not make. */
export function viewShare(view: string, self: string): Map<string, number> {
  const parts = view.split('|');
  if (parts.length !== 5) return new Map();
  const list = (s: string): string[] => (s === '' ? [] : s.split(','));
  const replicas = list(parts[1]!);
  const capacities = list(parts[4]!).map(Number);
  const input = { members: list(parts[0]!), self, replicas, containerConcurrency: Number(parts[2]), offset: Number(parts[3]), capacities };
  if (capacities.length !== replicas.length || [input.containerConcurrency, input.offset, ...capacities].some((n) => !Number.isFinite(n))) return new Map();
  const shares = capacityShare(input);
  return new Map(replicas.map((id, i) => [id, shares[i]!]));
}

function capacitiesOf(input: Pick<ShareInput, 'replicas' | 'capacities'>, cc: number): number[] {
  return input.replicas.map((_, i) => Math.min(cc, Math.max(0, Math.floor(input.capacities?.[i] ?? cc))));
}

function mod(a: number, m: number): number {
  return ((a % m) + m) % m;
}
