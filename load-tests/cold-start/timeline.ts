/**
 * The wake-up of a revision at zero as Sluice's own log tells it (pure: log lines in, times out). Times are
 * wall-clock ms: Sluice's pino `time`, the replica's ISO `time` (forwarded by the local backend as a line of
 * its stdout), so they compare with the client's Date.now().
 */
import type { LogLine } from '../support/sluice-process.js';

/** activator/activator.ts logs this when the first request for a revision with no ready replica is held. */
export const HELD_MESSAGE = 'holding requests for a revision at zero; waking it';

export interface ColdStartTimeline {
  /** the first request was held (the activator, just before it pokes the autoscaler) */
  heldAt: number;
  /** the backend spawned the first replica ('replica starting' is logged right after spawn) */
  spawnAt: number;
  /** the replica's own "ready" log line */
  replicaReadyAt: number;
  /** the backend announced the replica ready (after its readiness probe answered) */
  announcedAt: number;
  /** id of the first replica (`<namespace>/<revision>#1`) */
  replicaId: string;
  /** every replica announced ready during the run, in order */
  replicaUrls: string[];
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`cold-start timeline: sluice's log has no ${what}`);
  return value;
}

/** The replica's own JSON line carried in a forwarded stdout line, if it is one. */
function replicaLine(l: LogLine): { msg: string; time: number } | undefined {
  if (l['stream'] !== 'stdout' || typeof l.msg !== 'string' || !l.msg.startsWith('{')) return undefined;
  try {
    const inner = JSON.parse(l.msg) as { msg?: unknown; time?: unknown };
    if (typeof inner.msg !== 'string' || typeof inner.time !== 'string') return undefined;
    return { msg: inner.msg, time: Date.parse(inner.time) };
  } catch {
    return undefined;
  }
}

export function coldStartTimeline(logs: readonly LogLine[], revision: string): ColdStartTimeline {
  const ofRevision = (l: LogLine): boolean => typeof l['revision'] === 'string' && (l['revision'] as string).endsWith(`/${revision}`);
  const held = need(logs.find((l) => l.msg === HELD_MESSAGE && ofRevision(l)), `"${HELD_MESSAGE}" line for ${revision}`);
  const starting = need(
    logs.find((l) => l.msg === 'replica starting' && typeof l['replica'] === 'string' && (l['replica'] as string).includes(`/${revision}#`)),
    `"replica starting" line for ${revision}`,
  );
  const replicaId = starting['replica'] as string;
  const ownReady = need(
    logs.filter((l) => l['replica'] === replicaId).map(replicaLine).find((r) => r?.msg === 'ready'),
    `"ready" line from replica ${replicaId}`,
  );
  const announced = need(logs.find((l) => l.msg === 'replica ready' && l['replica'] === replicaId), `"replica ready" line for ${replicaId}`);
  const replicaUrls = logs
    .filter((l) => l.msg === 'replica ready' && typeof l['replica'] === 'string' && (l['replica'] as string).includes(`/${revision}#`))
    .map((l) => l['url'] as string);
  return {
    heldAt: held.time,
    spawnAt: starting.time,
    replicaReadyAt: ownReady.time,
    announcedAt: announced.time,
    replicaId,
    replicaUrls,
  };
}
