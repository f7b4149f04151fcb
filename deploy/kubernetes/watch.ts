import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';

export interface WatchHandlers<T extends KubernetesObject> {
  upsert: (obj: T) => void;
  remove: (obj: T) => void;
}

export interface ResilientInformer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * An informer (list + watch, relist on 410 Gone) that restarts itself with capped exponential backoff when its
 * watch fails or the connection drops, so a broken watch never silently stops delivering changes.
 */
export function resilientInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  handlers: WatchHandlers<T>,
  o: { clock: Clock; logger: Logger; labelSelector?: string; maxBackoffMs?: number },
): ResilientInformer {
  const informer = makeInformer<T>(kc, path, list, o.labelSelector);
  let stopped = true;
  let backoff = 200;
  let timer: TimerHandle | null = null;
  informer.on('add', handlers.upsert);
  informer.on('update', handlers.upsert);
  informer.on('delete', handlers.remove);
  informer.on('connect', () => {
    backoff = 200;
  });
  informer.on('error', (err: unknown) => {
    if (stopped) return;
    o.logger.warn({ err: String(err), path }, 'watch failed; restarting');
    timer = o.clock.setTimeout(() => {
      timer = null;
      if (!stopped) informer.start().catch(() => undefined);
    }, backoff);
    backoff = Math.min(backoff * 2, o.maxBackoffMs ?? 30_000);
  });
  return {
    async start() {
      stopped = false;
      await informer.start();
    },
    async stop() {
      stopped = true;
      if (timer) o.clock.clearTimeout(timer);
      await informer.stop();
    },
  };
}
