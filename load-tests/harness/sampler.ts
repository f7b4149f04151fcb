import { setTimeout as sleep } from 'node:timers/promises';

export interface Sampler<T> {
  /** every sample taken so far, oldest first */
  readonly samples: T[];
  /** samples that failed (e.g. a fetch refused); they are skipped, not retried */
  failures(): number;
  /** takes one sample now, outside the schedule (e.g. the instant an admin call returns) */
  takeNow(): Promise<T | undefined>;
  stop(): Promise<void>;
}

/**
 * Takes a sample every `intervalMs` until stopped. Samples never overlap: the next starts `intervalMs` after
 * the previous one finished, so a slow endpoint stretches the interval rather than piling up requests.
 */
export function startSampler<T>(intervalMs: number, take: () => Promise<T>): Sampler<T> {
  const samples: T[] = [];
  let failed = 0;
  let stopped = false;
  const once = async (): Promise<T | undefined> => {
    try {
      const s = await take();
      samples.push(s);
      return s;
    } catch {
      failed += 1;
      return undefined;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await once();
      if (!stopped) await sleep(intervalMs);
    }
  })();
  return {
    samples,
    failures: () => failed,
    takeNow: once,
    stop: async () => {
      stopped = true;
      await loop;
    },
  };
}
