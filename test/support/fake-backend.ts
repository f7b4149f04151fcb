/**
 * A Backend that starts nothing: tests drive endpoint events by hand (`ready`, `fail`) to replay what replicas
 * would do, and read back what the controller asked for (applied revisions, scale calls, removals).
 */
import type { Revision } from '../../api/revision.js';
import type { AdmissionStatus, Backend, Endpoint, EndpointEvent, ReplicaCounts } from '../../api/backend.js';

export class FakeBackend implements Backend {
  readonly applied = new Map<string, Revision>();
  readonly removed: string[] = [];
  readonly desired = new Map<string, number>();
  /** Replicas pending for a budget, by revision (set by tests; the local backend's admission queue). */
  readonly pending = new Map<string, number>();
  private readonly ready = new Map<string, Endpoint[]>();
  private readonly listeners = new Set<(e: EndpointEvent) => void>();
  private seq = 0;

  async apply(revision: Revision): Promise<void> {
    this.applied.set(`${revision.namespace}/${revision.name}`, revision);
  }
  async scale(key: string, replicas: number): Promise<void> {
    this.desired.set(key, replicas);
  }
  async remove(key: string): Promise<void> {
    this.removed.push(key);
    this.applied.delete(key);
    this.ready.delete(key);
  }
  counts(key: string): ReplicaCounts {
    return { desired: this.desired.get(key) ?? 0, starting: 0, ready: this.ready.get(key)?.length ?? 0 };
  }
  admission(key: string): AdmissionStatus | null {
    const pending = this.pending.get(key) ?? 0;
    return { pending, condition: pending > 0 ? { type: 'ResourcesAvailable', status: 'False', reason: 'ReplicaBudgetExhausted', message: `${pending} pending` } : null };
  }
  endpoints(key: string): Endpoint[] {
    return this.ready.get(key) ?? [];
  }
  subscribe(listener: (e: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async close(): Promise<void> {}

  /** A replica of the revision answered its probe (at `url` when given; gRPC calls go to `grpcUrl`, when given). */
  markReady(key: string, url = `http://127.0.0.1:1/${++this.seq}`, grpcUrl?: string): Endpoint {
    const ep: Endpoint = { id: `${key}#${++this.seq}`, revisionKey: key, url, capacity: 0, ...(grpcUrl !== undefined ? { grpcUrl } : {}) };
    this.ready.set(key, [...(this.ready.get(key) ?? []), ep]);
    this.emit({ type: 'ready', endpoint: ep });
    return ep;
  }
  /** A ready replica went away (scaled down): the revision is at zero when it was the last. */
  markRemoved(endpoint: Endpoint): void {
    this.ready.set(endpoint.revisionKey, (this.ready.get(endpoint.revisionKey) ?? []).filter((e) => e.id !== endpoint.id));
    this.emit({ type: 'removed', endpoint, reason: 'scaled down' });
  }
  /** A replica that never became ready went away (the local backend's `start-failed`). */
  fail(key: string, reason: string): void {
    this.emit({ type: 'start-failed', endpoint: { id: `${key}#${++this.seq}`, revisionKey: key, url: 'http://127.0.0.1:1', capacity: 0 }, reason });
  }
  private emit(e: EndpointEvent): void {
    for (const l of this.listeners) l(e);
  }
}
