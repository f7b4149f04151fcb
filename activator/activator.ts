import type { CancelSignal } from '../core/cancel-signal.js';
import type { Clock, TimerHandle } from '../core/clock.js';
import { SERVE_DEFAULTS } from '../core/config.js';
import { HttpError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SluiceMetrics } from '../core/metrics.js';
import { IN_FLIGHT, type GatewayMembership } from '../core/membership.js';
import type { EndpointEvent } from '../api/backend.js';
import { capacityShare, hasSlotsAt, isScarce, rotationFor, shareView, slotsOf, viewShare } from './capacity-share.js';
import { HoldQueue, type QueueNode } from './hold-queue.js';
import { activatorInPath } from './path-mode.js';
import type { Priority } from './priority.js';
import { Prober, httpProbe, type ProbeFn } from './prober.js';
import { ReplicaSet, type Replica } from './replica-set.js';

/** Bounds of the hold queues; every one is a setting of the configuration table (core/config-table.ts). */
export interface HoldLimits {
  maxHeldPerRevision: number;
  maxHeldTotal: number;
  maxHeldBytesPerRevision: number;
  maxHeldBytesTotal: number;
  /** Seconds a client is told to wait in Retry-After when a bound refuses it. */
  retryAfterSeconds: number;
}

/** A slot on a replica, held for the duration of one forwarded request. */
export interface Lease {
  readonly replica: Replica;
  /** Milliseconds the request waited in the hold queue (0 when it went straight through). */
  readonly heldMs: number;
  /**
   * True when the request waited for a replica to start: it was held while the revision had none in rotation,
   * and the replica it got entered the rotation while it waited (not one that came back after a failure).
   */
  readonly coldStart: boolean;
  /** True when the activator was in the revision's path for this request (held, or path mode on). */
  readonly viaActivator: boolean;
  release(): void;
}

/** Signals that the client went away: an AbortSignal, or anything with the same small shape. */

export interface AcquireOptions {
  /** Aborted when the client goes away. */
  signal?: CancelSignal;
  /** Absolute time (clock ms) after which the request fails with 504. */
  deadlineAt: number;
  /** Declared body size (content-length), counted against the byte bounds while held. */
  bytes: number;
  /** Class while held; interactive goes ahead of batch. Default interactive. */
  priority?: Priority;
}

export interface RevisionLabels {
  namespace: string;
  service: string;
  revision: string;
}

export interface RevisionDispatchOptions {
  /**
   * In-flight per replica up to which a backlog is released when capacity is unbounded (containerConcurrency
   * 0), so the first ready replica is not flooded while more start. Usually the autoscaler's per-replica
   * target. Default: no limit.
   */
  softCapacity?: number;
}

interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (err: Error) => void;
  enqueuedAt: number;
  coldStart: boolean;
  /** Replicas that had joined a rotation when the request was held: a later one started while it waited. */
  joinsBefore: number;
  bytes: number;
  /** Absolute time (clock ms) after which the request fails; its forward ends by then too. */
  deadlineAt: number;
  timer: TimerHandle;
  signal: CancelSignal | undefined;
  onAbort: () => void;
  queue: HoldQueue<Waiter>;
  node: QueueNode<Waiter> | null;
}

interface RevisionState {
  key: string;
  labels: RevisionLabels;
  replicas: ReplicaSet;
  interactive: HoldQueue<Waiter>;
  batch: HoldQueue<Waiter>;
  held: number;
  heldBytes: number;
  lastPokeAt: number;
  softCapacity: number;
  /** Last excess burst capacity reported by the autoscaler (−1 until known). */
  excess: number;
  inPath: boolean;
  share: ShareState;
  /** Leases not yet released (kept only when in-flight records are published). */
  inflight: number;
  /** The `IN_FLIGHT + key` value published (ms), 0 when none is; and the timer that clears it once idle. */
  inflightMs: number;
  idleTimer: TimerHandle | null;
}

/**
 * How long a revision must have had nothing in flight before this gateway's record stops saying it may (so a
 * revision with a request every few hundred ms does not rewrite the record on each).
 */
export const IN_FLIGHT_IDLE_MS = 1000;

/**
 * One revision's share of its replicas' capacity among the gateways (only with a membership). The hand-over
 * never overlaps: every gateway computes the same shares from the same view (members, replicas, cc, rotation);
 * it publishes "settled on view V" (with a fresh sequence number) once its in-flight counts are within its
 * V-shares, and from then on it stays within them (a promise). It applies a share that grew only when every
 * other member's record says settled on the same view AND acknowledges this gateway's latest sequence number
 * (so a stale record from before a member moved on cannot count when a view comes back); until then each
 * replica's limit is min(current share, bound), where `bound` is the shares of the last view it saw every member
 * settle on, lowered by every promise it made since. test: activator/shares.test.ts checks this under random
 * interleavings of messages, requests, gateways and replicas.
 *
 * So a gateway's in-flight on a replica never exceeds its share under the last view it published as settled. A
 * member that died with requests for the revision (GatewayMembership.departed) therefore keeps that share out of
 * the others' view until its requests' deadlines have passed, and does not hold up their hand-overs.
 */
interface ShareState {
  /** The current view's key ('' before the first computation). */
  view: string;
  /** The rotation in `view`. */
  viewOffset: number;
  /** Shares under the current view, by replica id (absent = 0). */
  cur: Map<string, number>;
  /** Limits this gateway has committed to (last view all settled on, min'd with later promises); absent = 0. */
  bound: Map<string, number>;
  /** Some replica's limit is below its share, or this gateway has not yet settled on the view. */
  pending: boolean;
  /** The last view this gateway saw every member settle on, and when it first saw that (clock ms). */
  fullView: string;
  fullAt: number;
  turnTimer: TimerHandle | null;
}

export interface ProbeSettings {
  /** Probe function; default an HTTP GET of the endpoint's readiness path (TCP connect without one). */
  probe?: ProbeFn;
  /** Period for replicas out of rotation (being confirmed, or failed). Default 100 ms. */
  intervalMs?: number;
  /** Period for replicas in rotation; 0 turns health probes off. Default 500 ms. */
  healthIntervalMs?: number;
  /** Timeout of one probe. Default 1000 ms. */
  timeoutMs?: number;
  /** Consecutive failed health probes that take an active replica out of rotation. Default 3. */
  failureThreshold?: number;
  /**
   * Confirm a replica announced ready by the backend with our own probe before sending it traffic. Off in
   * embedded mode (the local backend announces a replica right after its own successful probe of the same
   * path); on in cluster mode, where endpoint lists lag or lead the pod's real state.
   */
  confirmNewReplicas?: boolean;
}

export interface ActivatorOptions {
  clock: Clock;
  metrics: SluiceMetrics;
  logger: Logger;
  limits: HoldLimits;
  /** Wakes the autoscaler for a revision (first held request, at most every pokeIntervalMs). */
  poke: (revisionKey: string) => void;
  pokeIntervalMs?: number;
  random?: () => number;
  probes?: ProbeSettings;
  /**
   * The gateways that share every revision's capacity (worker processes, or a cluster's gateways). Each takes
   * only its share of a replica (activator/capacity-share.ts). Without one the activator uses every slot.
   */
  membership?: GatewayMembership;
  /**
   * A scarce revision (fewer slots than gateways) gives its slots to gateways that hold requests in turns; a
   * turn lasts at least this long while its holders still hold requests. Default 250 ms.
   */
  shareTurnMs?: number;
}

/** Keys of a gateway's published record, per revision: settled view, holds requests, rotation (leader). */
const SETTLED = 's:';
/** Sequence number of this gateway's latest settled publication for the revision. */
const SEQ = 'n:';
/** The latest settled sequence number seen from each other member ("id=n;id=n"): acknowledgements. */
const ACKS = 'a:';
const WAITING = 'd:';
const TURN = 't:';
const SHARE_KEYS = [SETTLED, SEQ, ACKS, WAITING, TURN];

/**
 * Dispatch for every revision: a replica with spare capacity when there is one, otherwise a bounded hold queue
 * (interactive ahead of batch, FIFO within a class) with a deadline, released as replicas become ready or free
 * up. It learns replicas from the backend's endpoint events, probes them itself, and takes one out of rotation
 * when it stops answering. The gateway uses it for every request, so entering and leaving the activator's
 * path never drops or duplicates one.
 */
export class Activator {
  private readonly opts: ActivatorOptions;
  private readonly revisions = new Map<string, RevisionState>();
  private readonly byReplica = new Map<Replica, RevisionState>();
  private readonly prober: Prober;
  private readonly confirmNew: boolean;
  private readonly failureThreshold: number;
  private readonly probeIntervalMs: number;
  private heldTotal = 0;
  /** Replicas that have entered the rotation so far (numbers Replica.joinedRotation). */
  private rotationJoins = 0;
  private heldBytesTotal = 0;
  private pathTimer: TimerHandle | null = null;
  private readonly stopInflightMetric: () => void;
  private readonly membership: GatewayMembership | null;
  /** What this gateway publishes to the other members (per revision: settled view, waiting, turn). */
  private readonly record: Record<string, string> = {};
  private recordDirty = false;
  private stopMembership: () => void = () => {};
  private warnedNoBoard = false;
  /** The last publish failed (logged once until one succeeds). */
  private publishFailed = false;
  /** The last board read (for departed members' records while the board cannot be read). */
  private lastBoard: ReadonlyMap<string, Readonly<Record<string, string>>> | undefined;
  /** The membership learns a departed gateway's revisions from its record (IN_FLIGHT entries). */
  private readonly publishInFlight: boolean;
  private settleSeq = 0;

  constructor(opts: ActivatorOptions) {
    this.opts = opts;
    this.membership = opts.membership ?? null;
    this.publishInFlight = this.membership?.departsByRecord === true && this.membership.publish !== undefined;
    if (this.membership) this.stopMembership = this.membership.subscribe(() => this.recomputeAll());
    // Each replica's in-flight count is read when /metrics is scraped, not written on every request.
    this.stopInflightMetric = opts.metrics.replicaInflight.source(() => this.inflightSeries());
    const p = opts.probes ?? {};
    this.confirmNew = p.confirmNewReplicas ?? false;
    this.failureThreshold = Math.max(1, p.failureThreshold ?? 3);
    this.probeIntervalMs = p.intervalMs ?? SERVE_DEFAULTS.activatorProbeIntervalMs;
    this.prober = new Prober({
      clock: opts.clock,
      probe: p.probe ?? httpProbe,
      intervalMs: this.probeIntervalMs,
      healthIntervalMs: p.healthIntervalMs ?? SERVE_DEFAULTS.activatorHealthIntervalMs,
      timeoutMs: p.timeoutMs ?? 1000,
      onResult: (r, ok) => this.onProbe(r, ok),
    });
  }

  /** Makes a revision known (idempotent; later calls update its dispatch options). */
  addRevision(key: string, labels: RevisionLabels, o: RevisionDispatchOptions = {}): void {
    const existing = this.revisions.get(key);
    if (existing) {
      if (o.softCapacity !== undefined) existing.softCapacity = o.softCapacity;
      return;
    }
    const st: RevisionState = {
      key,
      labels,
      replicas: new ReplicaSet(this.opts.random),
      interactive: new HoldQueue(),
      batch: new HoldQueue(),
      held: 0,
      heldBytes: 0,
      lastPokeAt: -Infinity,
      softCapacity: o.softCapacity ?? Infinity,
      excess: -1,
      inPath: true,
      share: { view: '', viewOffset: 0, cur: new Map(), bound: new Map(), pending: false, fullView: '', fullAt: 0, turnTimer: null },
      inflight: 0,
      inflightMs: 0,
      idleTimer: null,
    };
    this.revisions.set(key, st);
    this.opts.metrics.activatorInPath.set(labels, 1);
    this.recomputeShares(st);
  }

  /** Forgets a revision; requests still held for it get 503. */
  removeRevision(key: string): void {
    const st = this.revisions.get(key);
    if (!st) return;
    const err = new HttpError(503, `revision ${st.labels.revision} was removed`);
    for (const w of [...st.interactive, ...st.batch]) this.fail(st, w, err);
    for (const r of st.replicas.list()) this.forgetReplica(r);
    this.revisions.delete(key);
    this.opts.metrics.activatorInPath.remove(st.labels);
    if (st.share.turnTimer) this.opts.clock.clearTimeout(st.share.turnTimer);
    if (st.idleTimer) this.opts.clock.clearTimeout(st.idleTimer);
    if (this.membership) {
      for (const k of SHARE_KEYS) this.setRecord(k + key, undefined);
      // Its leases still running count nowhere once it is gone (the revision's replicas are forgotten too).
      this.setRecord(IN_FLIGHT + key, undefined);
      this.publish();
    }
  }

  /** The revision could not become ready: requests held for it are answered 503 with `message` now. */
  failRevision(key: string, message: string): void {
    const st = this.revisions.get(key);
    if (!st) return;
    const err = new HttpError(503, message);
    for (const w of [...st.interactive, ...st.batch]) this.fail(st, w, err);
  }

  onEndpointEvent(ev: EndpointEvent): void {
    const st = this.revisions.get(ev.endpoint.revisionKey);
    if (!st) return;
    const known = st.replicas.get(ev.endpoint.id);
    if (ev.type === 'ready') {
      if (known?.state === 'draining') return;
      // A replica new to this gateway takes nothing until its share is known (recomputed below, before release).
      const r = st.replicas.upsert(ev.endpoint, this.confirmNew ? 'probing' : 'active', this.membership && !known ? 0 : Infinity);
      this.byReplica.set(r, st);
      // Numbered before the shares are recomputed: that may hand it to held requests at once (a membership whose
      // board has settled), and a request held from zero is a cold start only if its replica joined after it.
      if (r.state === 'active' && r.joinedRotation === 0) r.joinedRotation = ++this.rotationJoins;
      if (!known) this.recomputeShares(st);
      if (r.state === 'active') {
        this.prober.watch(r, this.healthDelay());
        this.release(st);
      } else {
        this.prober.watch(r, 0);
      }
    } else if (ev.type === 'draining') {
      if (!known) return;
      st.replicas.setState(known.endpoint.id, 'draining');
      this.prober.unwatch(known);
      this.recomputeShares(st);
    } else {
      const r = st.replicas.remove(ev.endpoint.id);
      if (r) this.forgetReplica(r);
      this.recomputeShares(st);
    }
    this.refreshPath(st);
  }

  /**
   * Takes a replica out of rotation after a failed connection; it is re-probed and comes back when it
   * answers (or goes away when the backend removes it).
   */
  reportFailure(revisionKey: string, endpointId: string): void {
    const st = this.revisions.get(revisionKey);
    const r = st?.replicas.get(endpointId);
    if (!st || !r || r.state === 'draining' || r.state === 'failed') return;
    st.replicas.setState(endpointId, 'failed');
    this.opts.logger.warn({ revision: revisionKey, replica: endpointId }, 'replica out of rotation after a failed connection');
    this.prober.watch(r, this.probeIntervalMs);
    this.refreshPath(st);
  }

  held(revisionKey: string): number {
    return this.revisions.get(revisionKey)?.held ?? 0;
  }

  activeReplicas(revisionKey: string): number {
    return this.revisions.get(revisionKey)?.replicas.active ?? 0;
  }

  /** Replicas of a revision as the activator sees them (for status and tests). */
  replicas(revisionKey: string): ReadonlyArray<{ id: string; state: string; inflight: number; capacity: number; limit: number }> {
    const st = this.revisions.get(revisionKey);
    if (!st) return [];
    return st.replicas.list().map((r) => ({
      id: r.endpoint.id,
      state: r.state,
      inflight: r.breaker.inflight,
      capacity: r.breaker.capacity,
      /** This gateway's limit on the replica now (its share, while a hand-over allows it); Infinity = none. */
      limit: r.breaker.limit,
    }));
  }

  /** Whether the activator is in the revision's path now (true for unknown revisions). */
  inPath(revisionKey: string): boolean {
    return this.revisions.get(revisionKey)?.inPath ?? true;
  }

  /** Records the autoscaler's excess burst capacity for a revision and re-decides its path mode. */
  setExcessBurstCapacity(revisionKey: string, excess: number): void {
    const st = this.revisions.get(revisionKey);
    if (!st) return;
    st.excess = excess;
    this.refreshPath(st);
  }

  /** Every `everyMs`, reads each revision's excess burst capacity (from the autoscaler) and re-decides. */
  startPathUpdates(excessOf: (revisionKey: string) => number, everyMs: number): void {
    this.stopPathUpdates();
    this.pathTimer = this.opts.clock.setInterval(() => {
      for (const st of this.revisions.values()) {
        st.excess = excessOf(st.key);
        this.refreshPath(st);
      }
    }, everyMs);
  }

  /** Answers every held request with `err` (the gateway is shutting down); returns how many there were. */
  failAllHeld(err: HttpError): number {
    let n = 0;
    for (const st of this.revisions.values()) {
      for (const w of [...st.interactive, ...st.batch]) {
        this.fail(st, w, err);
        n++;
      }
    }
    return n;
  }

  /** Stops probes and path updates (requests still held stay held until their deadline). */
  close(): void {
    this.stopPathUpdates();
    this.prober.close();
    this.stopInflightMetric();
    this.stopMembership();
    for (const st of this.revisions.values()) if (st.share.turnTimer) this.opts.clock.clearTimeout(st.share.turnTimer);
  }

  private recomputeAll(): void {
    for (const st of this.revisions.values()) this.recomputeShares(st, false);
    this.publish();
  }

  /**
   * Recomputes this gateway's limits on the revision's replicas from the membership and the other members'
   * records (see ShareState), publishes what changed, and releases held requests into any room that appeared.
   */
  private recomputeShares(st: RevisionState, publish = true): void {
    const membership = this.membership;
    if (!membership) return;
    const sh = st.share;
    const key = st.key;
    const members = membership.members();
    const self = membership.self;
    const live = st.replicas.list().filter((r) => r.state !== 'draining');
    const cc = live.length > 0 ? live[0]!.breaker.capacity : 0;
    const board = membership.states?.();
    if (board) this.lastBoard = board;
    if (!board && !this.warnedNoBoard && members.length > 1) {
      this.warnedNoBoard = true;
      this.opts.logger.warn({ self }, 'gateway membership publishes no member records: shares change without a hand-over, so a replica may briefly see more than its containerConcurrency');
    }
    const recordOf = (m: string): Readonly<Record<string, string>> | undefined => (m === self ? this.record : board?.get(m));
    if (cc === 0) {
      // Unbounded: nothing to split or hand over.
      for (const r of st.replicas.list()) r.breaker.limit = r.state === 'draining' ? 0 : Infinity;
      sh.view = '';
      sh.pending = false;
      for (const k of SHARE_KEYS) this.setRecord(k + key, undefined);
      if (publish) this.publish();
      this.release(st);
      return;
    }
    const ids = live.map((r) => r.endpoint.id).sort();
    // While the board cannot be read (Redis down), departed members' shares stay out as they last were: shares
    // then change at once, and handing those slots back without a hand-over could overfill a replica.
    const capacities = this.capacitiesLeft(key, ids, cc, board ?? this.lastBoard);
    const slots = slotsOf({ replicas: ids, containerConcurrency: cc, capacities });
    const scarce = isScarce(members.length, slots);
    this.setRecord(WAITING + key, scarce && st.held > 0 ? '1' : undefined);
    const leader = members[0];
    let offset = scarce && leader !== undefined ? Number(recordOf(leader)?.[TURN + key] ?? 0) || 0 : 0;
    if (scarce && leader === self) offset = this.takeTurns(st, members, slots, offset, recordOf);
    else this.setRecord(TURN + key, undefined);
    const view = shareView({ members, replicas: ids, containerConcurrency: cc, offset, capacities });
    if (view !== sh.view) {
      sh.view = view;
      sh.viewOffset = offset;
      const shares = capacityShare({ members, self, replicas: ids, containerConcurrency: cc, offset, capacities });
      sh.cur = new Map(ids.map((id, i) => [id, shares[i]!]));
    }
    // Settled: every replica's in-flight within the view's share. Publishing it is a promise to stay within.
    let within = true;
    for (const r of live) if (r.breaker.inflight > (sh.cur.get(r.endpoint.id) ?? 0)) within = false;
    if (within && this.record[SETTLED + key] !== view) {
      this.setRecord(SETTLED + key, view);
      this.setRecord(SEQ + key, String(++this.settleSeq));
      for (const id of new Set([...sh.bound.keys(), ...sh.cur.keys()])) sh.bound.set(id, Math.min(sh.bound.get(id) ?? 0, sh.cur.get(id) ?? 0));
    }
    // Acknowledge what the others published, so they can tell a fresh record from a stale one.
    const acks: string[] = [];
    for (const m of members) {
      const n = m === self ? undefined : recordOf(m)?.[SEQ + key];
      if (n !== undefined) acks.push(`${m}=${n}`);
    }
    this.setRecord(ACKS + key, acks.length ? acks.join(';') : undefined);
    // Everyone settled on this view since our latest promise (or nobody else can tell us otherwise): its shares
    // are safe to use in full.
    const mySeq = this.record[SEQ + key];
    const allSettled =
      !board ||
      (this.record[SETTLED + key] === view &&
        members.every((m) => {
          if (m === self) return true;
          const rec = recordOf(m);
          return rec?.[SETTLED + key] === view && ackOf(rec[ACKS + key], self) === mySeq;
        }));
    if (allSettled && members.includes(self)) {
      sh.bound = new Map(sh.cur);
      if (sh.fullView !== view) {
        sh.fullView = view;
        sh.fullAt = this.opts.clock.now();
      }
    }
    let pending = !within || !allSettled;
    for (const r of st.replicas.list()) {
      const id = r.endpoint.id;
      const share = r.state === 'draining' ? 0 : (sh.cur.get(id) ?? 0);
      const limit = Math.min(share, sh.bound.get(id) ?? 0);
      if (limit < share) pending = true;
      r.breaker.limit = limit;
    }
    sh.pending = pending;
    if (publish) this.publish();
    this.release(st);
  }

  /**
   * Each replica's slots the members split: containerConcurrency less the shares that departed members with
   * requests for the revision last settled on (what they may still have in flight there).
   */
  private capacitiesLeft(key: string, ids: readonly string[], cc: number, board: ReadonlyMap<string, Readonly<Record<string, string>>> | undefined): number[] {
    const caps = ids.map(() => cc);
    const departed = this.membership?.departed?.();
    if (!departed || departed.size === 0) return caps;
    for (const [m, keys] of departed) {
      if (!keys.has(key)) continue;
      const settled = board?.get(m)?.[SETTLED + key];
      if (settled === undefined) continue; // it never settled: its limits were 0
      const used = viewShare(settled, m);
      ids.forEach((id, i) => (caps[i] = Math.max(0, caps[i]! - (used.get(id) ?? 0))));
    }
    return caps;
  }

  /**
   * The leader's rotation of a scarce revision's slots: when a member holds requests and has no slot, the turn
   * moves to it once the current holders hold none, or while they still do, `shareTurnMs` after the current
   * turn's hand-over completed (every member settled on it), so a holder gets its turn even when hand-overs
   * are slow.
   */
  private takeTurns(
    st: RevisionState,
    members: readonly string[],
    slots: number,
    offset: number,
    recordOf: (m: string) => Readonly<Record<string, string>> | undefined,
  ): number {
    const sh = st.share;
    const key = st.key;
    const g = members.length;
    const waiting = new Set(members.filter((m) => recordOf(m)?.[WAITING + key] === '1'));
    const starved = members.some((m, i) => waiting.has(m) && !hasSlotsAt(i, g, slots, offset));
    let next = offset % g;
    if (starved) {
      const holdersWait = members.some((m, i) => waiting.has(m) && hasSlotsAt(i, g, slots, offset));
      const now = this.opts.clock.now();
      const turnMs = this.opts.shareTurnMs ?? 250;
      const turnDone = sh.fullView === sh.view && sh.viewOffset === offset;
      if (!holdersWait || (turnDone && now - sh.fullAt >= turnMs)) {
        next = rotationFor(members, waiting, slots, offset);
      } else if (!sh.turnTimer) {
        sh.turnTimer = this.opts.clock.setTimeout(
          () => {
            sh.turnTimer = null;
            if (this.revisions.get(key) === st) this.recomputeShares(st);
          },
          Math.max(1, turnDone ? sh.fullAt + turnMs - now : turnMs),
        );
      }
    }
    this.setRecord(TURN + key, String(next));
    return next;
  }

  private setRecord(k: string, v: string | undefined): void {
    if (this.record[k] === v) return;
    if (v === undefined) delete this.record[k];
    else this.record[k] = v;
    this.recordDirty = true;
  }

  private publish(): void {
    if (!this.recordDirty || !this.membership?.publish) return;
    this.recordDirty = false;
    try {
      this.membership.publish({ ...this.record });
      this.publishFailed = false;
    } catch (err) {
      // (A record over the membership's size limit.) The others keep this gateway's last record: its hand-overs
      // wait, which is safe. It runs on a request's path, which must not fail for it; said once per failure run.
      if (!this.publishFailed) this.opts.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'gateway membership: cannot publish this gateway\'s record; capacity hand-overs wait until it can');
      this.publishFailed = true;
      this.recordDirty = true; // tried again at the next chance
    }
  }

  private *inflightSeries(): Iterable<{ labels: { revision: string; replica: string }; value: number }> {
    for (const st of this.revisions.values())
      for (const r of st.replicas.list()) yield { labels: { revision: st.labels.revision, replica: r.endpoint.id }, value: r.breaker.inflight };
  }

  /**
   * A slot on a replica of the revision: at once when one has room and nobody waits ahead, else after waiting
   * in the hold queue. Throws/rejects HttpError 503 over a bound, 504 past the deadline, 499 when the client left.
   */
  acquire(revisionKey: string, o: AcquireOptions): Lease | Promise<Lease> {
    const st = this.revisions.get(revisionKey);
    if (!st) throw new HttpError(503, `revision ${revisionKey} is not available`);
    if (st.held === 0) {
      const r = st.replicas.acquire();
      if (r) return this.lease(st, r, 0, false, st.inPath, o.deadlineAt);
    }
    return this.hold(st, o);
  }

  private stopPathUpdates(): void {
    if (this.pathTimer) this.opts.clock.clearInterval(this.pathTimer);
    this.pathTimer = null;
  }

  private healthDelay(): number {
    return this.opts.probes?.healthIntervalMs ?? 500;
  }

  private refreshPath(st: RevisionState): void {
    const inPath = activatorInPath({ activeReplicas: st.replicas.active, held: st.held, excessBurstCapacity: st.excess });
    if (inPath === st.inPath) return;
    st.inPath = inPath;
    this.opts.metrics.activatorInPath.set(st.labels, inPath ? 1 : 0);
    this.opts.logger.debug({ revision: st.key, inPath, excess: st.excess }, inPath ? 'activator enters the path' : 'activator leaves the path');
  }

  private onProbe(r: Replica, ok: boolean): void {
    const st = this.byReplica.get(r);
    if (!st || st.replicas.get(r.endpoint.id) !== r) return;
    if (r.state === 'draining') {
      this.prober.unwatch(r);
      return;
    }
    if (ok) {
      if (r.state !== 'active') {
        st.replicas.setState(r.endpoint.id, 'active');
        if (r.joinedRotation === 0) r.joinedRotation = ++this.rotationJoins;
        this.opts.logger.info({ revision: st.key, replica: r.endpoint.id }, 'replica in rotation');
        this.refreshPath(st);
        this.release(st);
      } else {
        r.probeFailures = 0;
      }
      return;
    }
    if (r.state === 'active' && ++r.probeFailures >= this.failureThreshold) {
      st.replicas.setState(r.endpoint.id, 'failed');
      this.opts.logger.warn({ revision: st.key, replica: r.endpoint.id }, 'replica out of rotation: readiness probe failed');
      this.refreshPath(st);
    }
  }

  private forgetReplica(r: Replica): void {
    this.prober.unwatch(r);
    this.byReplica.delete(r);
  }

  private hold(st: RevisionState, o: AcquireOptions): Promise<Lease> {
    const l = this.opts.limits;
    const m = this.opts.metrics;
    const retry = { 'retry-after': String(l.retryAfterSeconds) };
    const refuse = (reason: string, msg: string): never => {
      m.rejectedTotal.inc({ reason });
      throw new HttpError(503, msg, retry);
    };
    // A body that alone is over a byte bound can never be held, so a retry cannot succeed: 413, no Retry-After.
    // (503 + Retry-After below is for a bound that is full of other requests' bodies.)
    if (o.bytes > l.maxHeldBytesPerRevision || o.bytes > l.maxHeldBytesTotal) {
      m.rejectedTotal.inc({ reason: 'body_too_large' });
      const [name, limit] =
        o.bytes > l.maxHeldBytesPerRevision ? ['maxHeldBytesPerRevision', l.maxHeldBytesPerRevision] : ['maxHeldBytesTotal', l.maxHeldBytesTotal];
      throw new HttpError(
        413,
        `request body of ${o.bytes} bytes is larger than requests for revision ${st.labels.revision} can be while they wait for a replica (limit ${name}=${limit})`,
      );
    }
    if (st.held >= l.maxHeldPerRevision)
      refuse('revision_queue_full', `too many requests held for revision ${st.labels.revision} (limit maxHeldPerRevision=${l.maxHeldPerRevision})`);
    if (this.heldTotal >= l.maxHeldTotal)
      refuse('total_queue_full', `too many requests held in total (limit maxHeldTotal=${l.maxHeldTotal})`);
    if (st.heldBytes + o.bytes > l.maxHeldBytesPerRevision)
      refuse('revision_bytes_full', `held request bodies for revision ${st.labels.revision} exceed maxHeldBytesPerRevision=${l.maxHeldBytesPerRevision}`);
    if (this.heldBytesTotal + o.bytes > l.maxHeldBytesTotal)
      refuse('total_bytes_full', `held request bodies exceed maxHeldBytesTotal=${l.maxHeldBytesTotal}`);
    if (o.signal?.aborted) {
      m.rejectedTotal.inc({ reason: 'client_gone' });
      throw new HttpError(499, 'client closed the request');
    }
    const now = this.opts.clock.now();
    const coldStart = st.replicas.active === 0;
    const queue = o.priority === 'batch' ? st.batch : st.interactive;
    return new Promise<Lease>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        enqueuedAt: now,
        coldStart,
        joinsBefore: this.rotationJoins,
        bytes: o.bytes,
        deadlineAt: o.deadlineAt,
        signal: o.signal,
        queue,
        node: null,
        onAbort: () => {
          m.rejectedTotal.inc({ reason: 'client_gone' });
          this.fail(st, waiter, new HttpError(499, 'client closed the request'));
        },
        timer: this.opts.clock.setTimeout(() => {
          m.rejectedTotal.inc({ reason: 'deadline' });
          this.fail(
            st,
            waiter,
            new HttpError(504, `no replica of revision ${st.labels.revision} became available within the request timeout`),
          );
        }, Math.max(0, o.deadlineAt - now)),
      };
      o.signal?.addEventListener('abort', waiter.onAbort, { once: true });
      waiter.node = queue.push(waiter);
      st.held++;
      st.heldBytes += o.bytes;
      this.heldTotal++;
      this.heldBytesTotal += o.bytes;
      m.heldRequests.set(st.labels, st.held);
      m.heldBytes.set(st.labels, st.heldBytes);
      this.refreshPath(st);
      if (st.held === 1 && this.membership) this.recomputeShares(st); // now waiting: may ask for a turn
      const pokeEvery = this.opts.pokeIntervalMs ?? 1000;
      const wakes = coldStart && st.held === 1;
      if (wakes) this.opts.logger.info({ revision: st.key }, 'holding requests for a revision at zero; waking it');
      if (now - st.lastPokeAt >= pokeEvery || wakes) {
        st.lastPokeAt = now;
        this.opts.poke(st.key);
      }
      // A replica may have room while requests wait (e.g. after a release raced with this enqueue).
      this.release(st);
    });
  }

  /** Hands free slots to held requests: interactive first, oldest first within a class. */
  private release(st: RevisionState): void {
    while (st.held > 0) {
      const r = st.replicas.acquire(st.softCapacity);
      if (!r) break;
      const w = st.interactive.peek() ?? st.batch.peek()!;
      this.dequeue(st, w);
      const now = this.opts.clock.now();
      const heldMs = now - w.enqueuedAt;
      this.opts.metrics.holdSeconds.observe(st.labels, heldMs / 1000);
      // A cold start is a wait for a replica to start: held with none in rotation, and served by one that
      // entered the rotation while it waited. Waiting for a failed replica to come back is not one.
      w.resolve(this.lease(st, r, heldMs, w.coldStart && r.joinedRotation > w.joinsBefore, true, w.deadlineAt));
    }
    if (st.held === 0) this.refreshPath(st);
  }

  private fail(st: RevisionState, w: Waiter, err: Error): void {
    if (!w.node?.queued) return;
    this.dequeue(st, w);
    w.reject(err);
    if (st.held === 0) this.refreshPath(st);
  }

  private dequeue(st: RevisionState, w: Waiter): void {
    if (!w.node?.queued) return;
    w.queue.remove(w.node);
    this.opts.clock.clearTimeout(w.timer);
    w.signal?.removeEventListener('abort', w.onAbort);
    st.held--;
    st.heldBytes -= w.bytes;
    this.heldTotal--;
    this.heldBytesTotal -= w.bytes;
    this.opts.metrics.heldRequests.set(st.labels, st.held);
    this.opts.metrics.heldBytes.set(st.labels, st.heldBytes);
    if (st.held === 0 && this.membership) this.recomputeShares(st); // no longer waiting
  }

  /**
   * A request for a bounded revision went to a replica: the record says requests may be in flight for it until
   * their deadlines (published at once when that is new or later than what it said), so the others keep this
   * gateway's share out of theirs if it stops heartbeating before they end (core/redis-membership.ts).
   */
  private leaseStarted(st: RevisionState, deadlineAt: number): void {
    st.inflight++;
    if (st.idleTimer) {
      this.opts.clock.clearTimeout(st.idleTimer);
      st.idleTimer = null;
    }
    const ms = Math.ceil(deadlineAt - this.opts.clock.now());
    if (ms <= st.inflightMs) return;
    st.inflightMs = ms;
    this.setRecord(IN_FLIGHT + st.key, String(ms));
    this.publish();
  }

  /** Nothing in flight for the revision: the record stops saying so after IN_FLIGHT_IDLE_MS, if it stays so. */
  private idleSoon(st: RevisionState): void {
    if (st.idleTimer || st.inflightMs === 0) return;
    st.idleTimer = this.opts.clock.setTimeout(() => {
      st.idleTimer = null;
      if (st.inflight > 0 || this.revisions.get(st.key) !== st) return;
      st.inflightMs = 0;
      this.setRecord(IN_FLIGHT + st.key, undefined);
      this.publish();
    }, IN_FLIGHT_IDLE_MS);
  }

  private lease(st: RevisionState, r: Replica, heldMs: number, coldStart: boolean, viaActivator: boolean, deadlineAt: number): Lease {
    const counted = this.publishInFlight && r.breaker.capacity > 0;
    if (counted) this.leaseStarted(st, deadlineAt);
    return new ReplicaLease(this, st, r, heldMs, coldStart, viaActivator, counted);
  }

  /** A lease was released (once): its replica's slot is free again. @internal (ReplicaLease) */
  leaseEnded(st: RevisionState, r: Replica, counted: boolean): void {
    r.breaker.release();
    if (counted && --st.inflight === 0) this.idleSoon(st);
    if (st.share.pending) this.recomputeShares(st);
    this.release(st);
  }
}

/** A replica slot held by one request: an object with a method rather than a closure (one allocation, not three). */
class ReplicaLease implements Lease {
  private released = false;

  constructor(
    private readonly activator: Activator,
    private readonly st: RevisionState,
    readonly replica: Replica,
    readonly heldMs: number,
    readonly coldStart: boolean,
    readonly viaActivator: boolean,
    private readonly counted: boolean,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.activator.leaseEnded(this.st, this.replica, this.counted);
  }
}

/** The sequence number `member` appears with in an acknowledgement list ("id=n;id=n"). */
function ackOf(acks: string | undefined, member: string): string | undefined {
  if (!acks) return undefined;
  for (const part of acks.split(';')) {
    const eq = part.lastIndexOf('=');
    if (part.slice(0, eq) === member) return part.slice(eq + 1);
  }
  return undefined;
}
