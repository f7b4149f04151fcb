/**
 * How a revision that has never been ready proves itself, or fails: its replicas may exit before ready up to
 * `maxStartFailures` times, and once replicas are asked for it must be ready within its progress deadline
 * (Knative's `serving.knative.dev/progress-deadline`). Pure: the controller keeps one record per unproven
 * revision and asks these functions what to do. See docs/traffic.md ("When traffic moves").
 */
import type { StartLimits } from '../api/annotations.js';

export interface RevisionStart {
  limits: StartLimits;
  /** Held at one replica until ready (every new revision but a service's first one at initial-scale 0). */
  floor: boolean;
  /** When replicas were first asked for (clock ms); null while the revision waits at zero for a request. */
  askedAt: number | null;
  /** Replicas that exited before ever being ready. */
  failures: number;
  /** Why the last one went, as the backend said. */
  lastFailure: string | null;
}

export function revisionStart(limits: StartLimits, floor: boolean, askedAt: number | null): RevisionStart {
  return { limits, floor, askedAt, failures: 0, lastFailure: null };
}

/** A replica exited before ready. Returns the failure reason once the revision has used up its tries, else null. */
export function startFailed(s: RevisionStart, reason: string): string | null {
  s.failures++;
  s.lastFailure = reason;
  if (s.failures < s.limits.maxStartFailures) return null;
  return `${s.failures === 1 ? 'a replica' : `${s.failures} replicas`} exited before ready (limit ${s.limits.maxStartFailures}); the last: ${reason}`;
}

/**
 * On a controller tick: `asked` says whether the autoscaler wants replicas of the revision now. Starts the
 * deadline when replicas are first asked for, stops it when a revision started by a request went back to zero
 * unproven, and returns the failure reason once the deadline has passed.
 */
export function progressCheck(s: RevisionStart, now: number, asked: boolean): string | null {
  if (!asked && !s.floor) {
    s.askedAt = null;
    return null;
  }
  if (s.askedAt === null) {
    s.askedAt = now;
    return null;
  }
  if (now - s.askedAt < s.limits.progressDeadlineMs) return null;
  const last = s.lastFailure ? `; the last replica: ${s.lastFailure}` : '';
  return `not ready within the progress deadline of ${formatMs(s.limits.progressDeadlineMs)}${last}`;
}

/** While it tries: a note for the status message, or null before anything went wrong. */
export function startProgress(s: RevisionStart): string | null {
  if (s.failures === 0) return null;
  return `${s.failures} of ${s.limits.maxStartFailures} allowed replicas exited before ready; the last: ${s.lastFailure}`;
}

function formatMs(ms: number): string {
  const s = ms / 1000;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}
