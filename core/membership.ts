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
  /** Calls `listener` after `members()` changed; returns its removal. */
  subscribe(listener: () => void): () => void;
  /** Leaves the set (a clean stop frees this gateway's share at once rather than when its lease runs out). */
  close(): Promise<void>;
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
