import type { Revision } from './revision.js';

/** A ready replica of a revision, as the data plane sees it. */
export interface Endpoint {
  /** Unique per replica, e.g. `default/iris-predictor-00001#3`. */
  id: string;
  /** Revision key `<namespace>/<revision>`. */
  revisionKey: string;
  /** Base URL of the replica, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Base URL of the replica's gRPC port (HTTP/2 cleartext), e.g. `http://127.0.0.1:41235`, when its runtime serves gRPC. */
  grpcUrl?: string;
  /** Max concurrent requests (the revision's containerConcurrency); 0 = unbounded. */
  capacity: number;
  /**
   * HTTP path that answers 2xx while the replica can take requests (the runtime's readiness path, e.g.
   * `/v2/health/ready`, `/v1/models/<name>`, TorchServe `/ping`). Optional: without it, probes are TCP connects.
   */
  readinessPath?: string;
}

export type EndpointEvent =
  /** The replica answered its readiness probe and may take traffic. */
  | { type: 'ready'; endpoint: Endpoint }
  /** The replica is being stopped: send it no new requests; in-flight ones may finish. */
  | { type: 'draining'; endpoint: Endpoint }
  /** The replica is gone (stopped or crashed). */
  | { type: 'removed'; endpoint: Endpoint; reason: string }
  /**
   * A replica exited (or was killed at its start-up timeout) before it was ever ready. It was never announced,
   * so data-plane consumers have nothing to forget; the controller counts it against the revision's start.
   * `endpoint` names where the replica would have listened.
   */
  | { type: 'start-failed'; endpoint: Endpoint; reason: string };

export interface ReplicaCounts {
  desired: number;
  /** Replicas started but not ready yet. */
  starting: number;
  ready: number;
}

/** A status condition of a revision, Kubernetes-style (`ResourcesAvailable`, `GpuCapacity`). */
export interface RevisionCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** Replicas a backend accepted but has not started for want of resources, and the condition that says why. */
export interface AdmissionStatus {
  pending: number;
  /** Absent for a revision that never had to wait. */
  condition: RevisionCondition | null;
}

/**
 * Where replicas run. Two implementations: local processes (embedded mode) and Kubernetes.
 * The controller calls apply/remove; the autoscaler calls scale; the data plane subscribes to endpoints.
 */
export interface Backend {
  /** Registers (or updates) a revision's workload. Creates no replica by itself. */
  apply(revision: Revision): Promise<void>;
  /** Sets the number of replicas a revision should have. Idempotent. */
  scale(revisionKey: string, replicas: number): Promise<void>;
  /** Stops every replica of a revision and forgets it. */
  remove(revisionKey: string): Promise<void>;
  /**
   * The revision failed to become ready: stop it (zero replicas) and record why where every other instance
   * that could scale it sees it, so none starts it again (Kubernetes: an annotation on its Deployment, which the
   * autoscaler role reads). Optional: where one process does everything, `scale(key, 0)` is the same.
   */
  markFailed?(revisionKey: string, reason: string): Promise<void>;
  counts(revisionKey: string): ReplicaCounts;
  /**
   * Replicas accepted but not started (the local backend's global budget; Kubernetes would show Pending pods).
   * Optional: a backend without a budget has nothing pending.
   */
  admission?(revisionKey: string): AdmissionStatus | null;
  /** Current ready endpoints of a revision. */
  endpoints(revisionKey: string): Endpoint[];
  /** Endpoint changes, for every revision. Returns an unsubscribe function. */
  subscribe(listener: (event: EndpointEvent) => void): () => void;
  /** Stops every replica (graceful, then forced) and releases resources. */
  close(): Promise<void>;
}
