/** Counts requests on one replica against its capacity (containerConcurrency; 0 = unbounded). */
export class Breaker {
  readonly capacity: number;
  private current = 0;

  constructor(capacity: number) {
    this.capacity = Math.max(0, capacity);
  }

  get inflight(): number {
    return this.current;
  }

  hasRoom(): boolean {
    return this.capacity === 0 || this.current < this.capacity;
  }

  tryAcquire(): boolean {
    if (!this.hasRoom()) return false;
    this.current++;
    return true;
  }

  release(): void {
    if (this.current > 0) this.current--;
  }
}
