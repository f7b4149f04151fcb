import type { Clock, TimerHandle } from '../core/clock.js';

/** A request body being read from a client, as the watch sees it. */
export interface WatchedBody {
  /** Sweep count at its last chunk (or when reading resumed). */
  lastTick: number;
  /** True while the gateway itself stopped reading (the replica is slow to take the body): not the client's fault. */
  paused: boolean;
  prevWatched: WatchedBody | null;
  nextWatched: WatchedBody | null;
  /** Called once when the client sent nothing for the body timeout. */
  bodyTimedOut(timeoutMs: number): void;
}

/**
 * The request-body timeout of every request at once: one timer sweeps the bodies being read, and a body whose
 * client sent nothing for `timeoutMs` while the gateway was reading is timed out. A body only counts while it is
 * read: a request held by the activator (its body waits unread in the socket) or paused because the replica is
 * slow to take it is not timed. Per request: a list insert and remove; per chunk: one store. No timer per request.
 * A body times out after between `timeoutMs` and `timeoutMs` + one sweep (at most 1 s) of silence, never earlier.
 */
export class BodyWatch {
  /** Sweeps so far; bodies stamp their chunks with it. */
  tick = 0;
  private head: WatchedBody | null = null;
  private readonly ticksAllowed: number;
  private readonly timer: TimerHandle;

  constructor(
    private readonly clock: Clock,
    readonly timeoutMs: number,
  ) {
    const sweepMs = Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4)));
    this.ticksAllowed = Math.ceil(timeoutMs / sweepMs);
    this.timer = clock.setInterval(() => this.sweep(), sweepMs);
  }

  add(b: WatchedBody): void {
    b.lastTick = this.tick;
    b.prevWatched = null;
    b.nextWatched = this.head;
    if (this.head) this.head.prevWatched = b;
    this.head = b;
  }

  remove(b: WatchedBody): void {
    if (b.prevWatched) b.prevWatched.nextWatched = b.nextWatched;
    else if (this.head === b) this.head = b.nextWatched;
    else return; // not watched
    if (b.nextWatched) b.nextWatched.prevWatched = b.prevWatched;
    b.prevWatched = b.nextWatched = null;
  }

  close(): void {
    this.clock.clearInterval(this.timer);
  }

  private sweep(): void {
    const now = ++this.tick;
    for (let b = this.head; b; ) {
      const next = b.nextWatched;
      if (!b.paused && now - b.lastTick > this.ticksAllowed) {
        this.remove(b);
        b.bodyTimedOut(this.timeoutMs);
      }
      b = next;
    }
  }
}
