/**
 * One watch connection: replays history from a resourceVersion (or synthesises ADDED for the current
 * state), then streams store events as JSON lines, with bookmarks, selector transitions (an object that
 * stops matching is sent as DELETED), a bounded write buffer, and 410 Gone when the history is too short.
 */
import type { ServerResponse } from 'node:http';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { apiVersionOf, resourceKey, type ResourceType } from './resources.js';
import type { ListFilter, ObjectStore } from './store.js';
import { statusObject } from './status.js';
import type { KubeObject, StoreEvent } from './types.js';

export interface WatchOptions {
  type: ResourceType;
  filter: ListFilter;
  /** '' or '0': start from the current state; otherwise resume after this version. */
  resourceVersion: string;
  bookmarks: boolean;
  bookmarkIntervalMs: number;
  timeoutMs: number | null;
  /** A watcher whose unsent bytes exceed this is disconnected (a slow consumer). */
  maxBufferedBytes: number;
}

export class WatchStream {
  private closed = false;
  private unsubscribe: (() => void) | null = null;
  private bookmarkTimer: TimerHandle | null = null;
  private timeoutTimer: TimerHandle | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly res: ServerResponse,
    private readonly clock: Clock,
    private readonly opts: WatchOptions,
    private readonly onClose: (w: WatchStream) => void,
  ) {}

  start(): void {
    const { res, opts, store } = this;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    res.on('close', () => this.close());
    const rv = opts.resourceVersion;
    if (rv === '' || rv === '0') {
      const { items } = store.list(opts.type, opts.filter);
      items.sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion));
      for (const o of items) this.send('ADDED', o);
    } else {
      const from = Number(rv);
      const past = Number.isFinite(from) ? store.eventsSince(from) : 'gone';
      if (past === 'gone') {
        this.expire(`too old resource version: ${rv} (${store.currentResourceVersion()})`);
        return;
      }
      for (const e of past) this.deliver(e);
    }
    this.unsubscribe = store.subscribe((e) => this.deliver(e));
    if (opts.bookmarks) this.bookmarkTimer = this.clock.setInterval(() => this.bookmark(), opts.bookmarkIntervalMs);
    if (opts.timeoutMs !== null) this.timeoutTimer = this.clock.setTimeout(() => this.end(), opts.timeoutMs);
  }

  /** Sends an ERROR event carrying a 410 Expired Status, then ends the stream (as a real apiserver does). */
  expire(message: string): void {
    if (this.closed) return;
    this.write({ type: 'ERROR', object: statusObject(410, 'Expired', message) });
    this.end();
  }

  /** Ends the stream cleanly (the client sees the body end). */
  end(): void {
    if (this.closed) return;
    this.res.end();
    this.close();
  }

  /** Breaks the connection abruptly. */
  destroy(): void {
    if (this.closed) return;
    this.res.socket?.destroy();
    this.res.destroy();
    this.close();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    if (this.bookmarkTimer) this.clock.clearInterval(this.bookmarkTimer);
    if (this.timeoutTimer) this.clock.clearTimeout(this.timeoutTimer);
    this.onClose(this);
  }

  private deliver(e: StoreEvent): void {
    if (e.resource !== resourceKey(this.opts.type)) return;
    const now = this.store.matches(e.object, this.opts.filter);
    const before = e.previous !== null && this.store.matches(e.previous, this.opts.filter);
    if (e.type === 'ADDED') {
      if (now) this.send('ADDED', e.object);
    } else if (e.type === 'MODIFIED') {
      if (now && before) this.send('MODIFIED', e.object);
      else if (now) this.send('ADDED', e.object);
      else if (before) this.send('DELETED', e.object);
    } else if (now || before) this.send('DELETED', e.object);
  }

  /** Every event up to the store's current version has been delivered (delivery is synchronous). */
  private bookmark(): void {
    const t = this.opts.type;
    this.send('BOOKMARK', { apiVersion: apiVersionOf(t), kind: t.kind, metadata: { resourceVersion: String(this.store.currentResourceVersion()) } });
  }

  private send(type: string, object: KubeObject): void {
    this.write({ type, object });
  }

  private write(event: object): void {
    if (this.closed) return;
    if (this.res.writableLength > this.opts.maxBufferedBytes) {
      this.destroy();
      return;
    }
    this.res.write(JSON.stringify(event) + '\n');
  }
}
