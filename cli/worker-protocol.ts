import type { ApiKeyRecord } from '../api/api-keys.js';
import type { EndpointEvent } from '../api/backend.js';
import type { ServeConfig } from '../core/config.js';
import type { MetricBucket } from '../core/store.js';
import type { DataPlaneSnapshot } from '../gateway/data-plane.js';

/** A worker sends 'busy' for a revision at most this often. */
export const BUSY_EVERY_MS = 250;
/**
 * A dead worker counts as having had requests in flight for a revision when its last report said so, or when it
 * was busy (a 'busy' message, or a report with some in flight) within this long. It covers a request begun after
 * the last report: its 'busy' went at most BUSY_EVERY_MS before it, and a longer one shows in a report.
 */
export const BUSY_WINDOW_MS = 1_000;

/**
 * Messages between the primary process of `sluice serve --workers N` and its workers, over node:cluster's IPC
 * channel with the 'advanced' serialization (structured clone: Maps in the snapshot travel as they are).
 * Messages on one channel arrive in the order they were sent.
 */

export interface RevisionLabels {
  namespace: string;
  service: string;
  revision: string;
}

/** What the controller tells the activator (deploy/controller.ts, Dispatch), fanned out to every worker. */
export type DispatchOp =
  | { op: 'add'; key: string; labels: RevisionLabels }
  | { op: 'remove'; key: string }
  | { op: 'endpoint'; ev: EndpointEvent }
  | { op: 'fail'; key: string; message: string };

export type ToWorker =
  /** First message: the settings, this worker's id, and everything needed to route before it listens. */
  | { t: 'init'; id: string; config: ServeConfig; stateDir: string; snapshot: DataPlaneSnapshot; replay: DispatchOp[]; serving: boolean; apiKeys: ApiKeyRecord[] }
  /** An API key made or revoked through the admin API; the worker answers 'keys-ack' with the same seq. */
  | { t: 'keys'; seq: number; add?: ApiKeyRecord; remove?: string }
  /** Send your registry's getMetricsAsJSON() (a scrape of the primary's /metrics). */
  | { t: 'metrics'; id: number }
  /** The answer to a worker's 'token'. */
  | { t: 'token'; id: number; allowed: boolean; retryAfterMs: number }
  | { t: 'snapshot'; snapshot: DataPlaneSnapshot }
  | { t: 'dispatch'; ops: DispatchOp[] }
  /**
   * The IPC GatewayMembership: the live workers, the departed ones (killed with requests in flight, with the
   * revisions of those requests) and what each published (core/membership.ts).
   */
  | { t: 'board'; members: string[]; departed: Array<[string, string[]]>; records: Array<[string, Record<string, string>]> }
  /** The autoscaler's excess burst capacity per revision (path mode). */
  | { t: 'excess'; entries: Array<[string, number]> }
  | { t: 'serving' }
  /** Stop taking connections, let in-flight requests finish (within shutdownGraceSeconds), then exit. */
  | { t: 'drain' };

export type FromWorker =
  | { t: 'hello' }
  | { t: 'listening'; port: number; grpcPort: number | null; internalPort: number | null }
  | { t: 'buckets'; key: string; instance: string; buckets: MetricBucket[] }
  /** A held request wakes the revision; carries the worker's held count so the autoscaler sees it at once. */
  | { t: 'poke'; key: string; held: number }
  /**
   * A request for the revision began while none was in flight (at most every BUSY_EVERY_MS per revision), sent
   * at once rather than with the next report: a worker that dies before its next report still had it in flight.
   */
  | { t: 'busy'; key: string }
  /** Held requests and in-flight per revision on this worker (changed entries only; 0 removes). */
  | { t: 'report'; held: Array<[string, number]>; inflight: Array<[string, number]> }
  /** Rollout outcomes: [revisionKey, at, status, totalMs, coldStartMs]. */
  | { t: 'outcomes'; list: Array<[string, number, number, number, number]> }
  | { t: 'publish'; record: Record<string, string> }
  | { t: 'keys-ack'; seq: number }
  /** The registry's getMetricsAsJSON() for scrape `id`. */
  | { t: 'metrics'; id: number; json: unknown[] }
  /** Take a token from the rate-limit bucket `key` kept in the primary (shared by every worker). */
  | { t: 'token'; id: number; key: string; rate: number; burst: number };
