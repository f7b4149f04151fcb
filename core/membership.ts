/**
 * The set of gateways that share every revision's capacity (worker processes of one `sluice serve --workers N`,
 * or the gateway pods of a cluster). Each gateway takes only its own share of a replica's `containerConcurrency`
 * (activator/capacity-share.ts), so all of them together never exceed it. Implementations: `StaticMembership`
 * (one gateway alone), the workers' primary over IPC, and Redis with a lease per gateway in cluster mode.
 */
export interface GatewayMembership {
  /** This gateway's id, unique among the live members. */
  readonly self: string;
  /** The live gateway ids, including `self`, in the same order on every member (sorted). */
  members(): readonly string[];
  /** Calls `listener` after `members()` or `states()` changed; returns its removal. */
  subscribe(listener: () => void): () => void;
  /**
   * Optional, and what makes a hand-over exact: replaces this gateway's small published record (string keys
   * and values, a few per revision: the capacity view it has settled on, whether it holds requests, the
   * leader's rotation of scarce slots). Every member sees it through `states()`; a member that leaves takes
   * its record with it. Without `publish`/`states` the Activator applies new shares at once (a replica may
   * then briefly see more than its containerConcurrency while gateways or replicas change).
   */
  publish?(record: Readonly<Record<string, string>>): void;
  /**
   * Optional: the last record each live member published (members that published nothing may be absent), and
   * each departed one's.
   * Undefined while the board cannot be read (Redis down): shares then change at once, as without a board.
   */
  states?(): ReadonlyMap<string, Readonly<Record<string, string>>> | undefined;
  /**
   * Optional: gateways that stopped without leaving (a worker process killed) while requests they forwarded may
   * still run on replicas, with the revisions those requests are for. They are not in `members()`; their last
   * records stay in `states()` until those requests' deadlines have passed. The Activator keeps the share each
   * last settled on out of the others' view for those revisions (activator/capacity-share.ts).
   */
  departed?(): ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * Optional: true when this membership learns a departed gateway's revisions from its record rather than on its
   * own (Redis, where a gateway that stops heartbeating says nothing more). The Activator then publishes
   * `IN_FLIGHT + key` while it has requests for a bounded revision in flight (inFlightKeys, inFlightHoldMs).
   */
  readonly departsByRecord?: boolean;
  /** Leaves the set (a clean stop frees this gateway's share at once rather than when its lease runs out). */
  close(): Promise<void>;
}

/**
 * A record field `IN_FLIGHT + <revision key>` = `<ms>` says the gateway may have requests for that revision in
 * flight, none of which runs longer than `<ms>` after it started (their deadlines). Published only for memberships
 * that `departsByRecord`; set when a first request starts and cleared a while after the last one ends. A gateway
 * that stops heartbeating started its last request before its lease ran out, so that request has ended by the
 * lease's end plus `<ms>`.
 */
export const IN_FLIGHT = 'f:';

/** The revisions a record says requests may be in flight for. */
export function inFlightKeys(record: Readonly<Record<string, string>> | undefined): Set<string> {
  const keys = new Set<string>();
  if (record) for (const k in record) if (k.startsWith(IN_FLIGHT)) keys.add(k.slice(IN_FLIGHT.length));
  return keys;
}

/** The longest a record's in-flight requests may still run (ms; 0 when it says none are in flight). */
export function inFlightHoldMs(record: Readonly<Record<string, string>> | undefined): number {
  let ms = 0;
  if (record)
    for (const k in record) {
      if (!k.startsWith(IN_FLIGHT)) continue;
      const v = Number(record[k]);
      if (Number.isFinite(v) && v > ms) ms = v;
    }
  return ms;
}

/** A gateway that is the only one: it takes every slot. */
export class StaticMembership implements GatewayMembership {
  private readonly list: readonly string[];

  constructor(readonly self: string = 'gateway') {
    this.list = [self];
  }

  members(): readonly string[] {
    return this.list;
  }

  subscribe(): () => void {
    return () => {};
  }

  async close(): Promise<void> {}
}
