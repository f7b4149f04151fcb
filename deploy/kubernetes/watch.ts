import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import { ResilientInformer as Informer } from '../backends/kubernetes/resilient-informer.js';

export interface WatchHandlers<T extends KubernetesObject> {
  upsert: (obj: T) => void;
  remove: (obj: T) => void;
}

export interface ResilientInformer {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * An informer (list + watch, relist on 410 Gone, restart with capped backoff on any other failure) that
 * reports upserts and removals separately. Start it once; make a new one to watch again after stop().
 */
export function resilientInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  handlers: WatchHandlers<T>,
  o: { clock: Clock; logger: Logger; labelSelector?: string; maxBackoffMs?: number },
): ResilientInformer {
  const informer = new Informer<T>(kc, path, list, o.labelSelector, o.clock, { initial: 200, max: o.maxBackoffMs ?? 30_000 }, (obj, deleted) =>
    deleted ? handlers.remove(obj) : handlers.upsert(obj),
  );
  return { start: () => informer.start(), stop: () => informer.stop() };
}
