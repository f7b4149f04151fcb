/**
 * A client-node informer (list + watch cache) that restarts itself with exponential backoff when its watch
 * fails: client-node relists by itself on 410 Gone but stops on any other error (dropped connection, 5xx).
 */
import { makeInformer, type Informer, type KubeConfig, type KubernetesObject, type ObjectCache } from '@kubernetes/client-node';
import type { Clock } from '../../../core/clock.js';

export class ResilientInformer<T extends KubernetesObject> {
  readonly informer: Informer<T> & ObjectCache<T>;
  private stopped = false;
  private delay: number;
  private timer: ReturnType<Clock['setTimeout']> | null = null;
  private synced: Promise<void> | null = null;

  constructor(
    kc: KubeConfig,
    path: string,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    labelSelector: string | undefined,
    private readonly clock: Clock,
    private readonly backoff: { initial: number; max: number },
    /** Every change; `deleted` is true when the object is gone. */
    onChange: (obj: T, deleted: boolean) => void,
  ) {
    this.delay = backoff.initial;
    this.informer = makeInformer<T>(kc, path, list as never, labelSelector);
    this.informer.on('add', (o) => onChange(o, false));
    this.informer.on('update', (o) => onChange(o, false));
    this.informer.on('delete', (o) => onChange(o, true));
    this.informer.on('connect', () => {
      this.delay = this.backoff.initial;
    });
    this.informer.on('error', () => this.restartLater());
  }

  /** Lists and starts watching; resolves after the first list (later calls return the same promise). */
  start(): Promise<void> {
    this.synced ??= this.informer.start();
    return this.synced;
  }

  private restartLater(): void {
    if (this.stopped || this.timer) return;
    const wait = this.delay;
    this.delay = Math.min(this.backoff.max, this.delay * 2);
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.informer.start().catch(() => this.restartLater());
    }, wait);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    await this.informer.stop();
  }
}
