import type { Revision } from '../../api/revision.js';
import { revisionKey } from '../../api/revision.js';
import type { Backend, Endpoint, EndpointEvent, ReplicaCounts } from '../../api/backend.js';

/**
 * Replicas that run elsewhere, at fixed addresses: a revision's endpoints are the URLs `resolve` gives for it.
 * Scaling to n > 0 makes them ready; scaling to 0 takes them out. Useful in front of model servers Sluice does
 * not manage, and as the backend of the load tests (the same upstreams for every system compared).
 */
export class StaticBackend implements Backend {
  private readonly revisions = new Map<string, { urls: string[]; capacity: number; desired: number }>();
  private readonly listeners = new Set<(e: EndpointEvent) => void>();

  constructor(private readonly resolve: (revision: Revision) => string[]) {}

  /** Registers a revision; re-applied while up with other addresses or capacity, its endpoints move. */
  async apply(revision: Revision): Promise<void> {
    const key = revisionKey(revision);
    const existing = this.revisions.get(key);
    const next = { urls: this.resolve(revision), capacity: revision.containerConcurrency, desired: existing?.desired ?? 0 };
    const moved =
      existing !== undefined &&
      existing.desired > 0 &&
      (existing.capacity !== next.capacity || existing.urls.length !== next.urls.length || existing.urls.some((u, i) => u !== next.urls[i]));
    if (moved) for (const endpoint of this.endpointsOf(key)) this.emit({ type: 'removed', endpoint, reason: 'addresses changed' });
    this.revisions.set(key, next);
    if (moved) for (const endpoint of this.endpointsOf(key)) this.emit({ type: 'ready', endpoint });
  }

  async scale(key: string, replicas: number): Promise<void> {
    const r = this.revisions.get(key);
    if (!r) return;
    const wasUp = r.desired > 0;
    r.desired = replicas;
    if (!wasUp && replicas > 0) for (const endpoint of this.endpointsOf(key)) this.emit({ type: 'ready', endpoint });
    if (wasUp && replicas === 0) for (const endpoint of this.endpointsOf(key)) this.emit({ type: 'removed', endpoint, reason: 'scaled to zero' });
  }

  async remove(key: string): Promise<void> {
    await this.scale(key, 0);
    this.revisions.delete(key);
  }

  counts(key: string): ReplicaCounts {
    const r = this.revisions.get(key);
    const up = r && r.desired > 0 ? r.urls.length : 0;
    return { desired: r?.desired ?? 0, starting: 0, ready: up };
  }

  endpoints(key: string): Endpoint[] {
    const r = this.revisions.get(key);
    return r && r.desired > 0 ? this.endpointsOf(key) : [];
  }

  subscribe(listener: (event: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private endpointsOf(key: string): Endpoint[] {
    const r = this.revisions.get(key)!;
    return r.urls.map((url, i) => ({ id: `${key}#${i + 1}`, revisionKey: key, url, capacity: r.capacity }));
  }

  private emit(e: EndpointEvent): void {
    for (const l of this.listeners) l(e);
  }
}
