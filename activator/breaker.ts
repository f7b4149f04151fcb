/**
 * Counts this gateway's requests on one replica. Two bounds: the replica's capacity (containerConcurrency;
 * 0 = unbounded) and this gateway's share of it (`limit`, activator/capacity-share.ts), which the Activator
 * changes as gateways and replicas come and go. Lowering the limit stops new acquisitions at once; requests in
 * flight finish.
 */
export class Breaker {
  readonly capacity: number;
  private current = 0;
  private shareLimit: number;
  /** min(capacity, share), Infinity when both are unbounded: the one number the hot path compares with. */
  private max: number;

  constructor(capacity: number, limit = Infinity) {
    this.capacity = Math.max(0, capacity);
    this.shareLimit = Math.max(0, limit);
    this.max = this.bound();
  }

  get inflight(): number {
    return this.current;
  }

  /** This gateway's share of the replica (Infinity when it may use all of it). */
  get limit(): number {
    return this.shareLimit;
  }

  set limit(n: number) {
    this.shareLimit = Math.max(0, n);
    this.max = this.bound();
  }

  /** The most requests this gateway may have on the replica now. */
  get effectiveLimit(): number {
    return this.max;
  }

  hasRoom(): boolean {
    return this.current < this.max;
  }

  tryAcquire(): boolean {
    if (this.current >= this.max) return false;
    this.current++;
    return true;
  }

  release(): void {
    if (this.current > 0) this.current--;
  }

  private bound(): number {
    return Math.min(this.capacity === 0 ? Infinity : this.capacity, this.shareLimit);
  }
}
