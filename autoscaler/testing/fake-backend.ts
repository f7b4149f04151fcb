import type { Revision } from '../../api/revision.js';
import type { Clock, TimerHandle } from '../../core/clock.js';
import type { AdmissionStatus, Backend, Endpoint, EndpointEvent, ReplicaCounts } from '../../api/backend.js';
import type { GpuAllocator } from '../policies/gpu-inventory.js';

interface FakeReplica {
  id: string;
  state: 'pending' | 'starting' | 'ready';
  timer: TimerHandle | null;
}

interface FakeRevision {
  key: string;
  capacity: number;
  gpus: Record<string, number>;
  desired: number;
  replicas: FakeReplica[];
  nextId: number;
}

export interface FakeBackendOptions {
  clock: Clock;
  /** Time from a replica being asked for to it being ready (driven by the clock). */
  startupMs?: number | ((revisionKey: string) => number);
  /** When set, replicas of GPU revisions take devices on start and stay pending while none are free. */
  gpus?: GpuAllocator;
}

/**
 * An in-memory Backend for autoscaler tests and the simulator: replicas become ready `startupMs` after they
 * are asked for, on the injected clock. Records every scale call.
 */
export class FakeBackend implements Backend {
  readonly scaleCalls: Array<{ at: number; key: string; replicas: number }> = [];
  /** Set by tests to play a backend whose replicas wait for a budget (the local backend's admission). */
  admission?: (revisionKey: string) => AdmissionStatus | null;
  private readonly revisions = new Map<string, FakeRevision>();
  private readonly listeners = new Set<(e: EndpointEvent) => void>();

  constructor(private readonly opts: FakeBackendOptions) {}

  async apply(rev: Revision): Promise<void> {
    const key = `${rev.namespace}/${rev.name}`;
    const r = this.revisions.get(key);
    if (r) {
      r.capacity = rev.containerConcurrency;
      r.gpus = rev.gpus;
      return;
    }
    this.revisions.set(key, { key, capacity: rev.containerConcurrency, gpus: rev.gpus, desired: 0, replicas: [], nextId: 1 });
  }

  /** Starts `n` replicas already ready (a backend found running by a restarted autoscaler). */
  preload(key: string, n: number, capacity = 0): void {
    const r = this.revisions.get(key) ?? { key, capacity, gpus: {}, desired: 0, replicas: [], nextId: 1 };
    this.revisions.set(key, r);
    for (let i = 0; i < n; i++) r.replicas.push({ id: `${key}#${r.nextId++}`, state: 'ready', timer: null });
    r.desired = r.replicas.length;
  }

  async scale(key: string, replicas: number): Promise<void> {
    const r = this.revisions.get(key);
    if (!r) throw new Error(`unknown revision ${key}`);
    this.scaleCalls.push({ at: this.opts.clock.now(), key, replicas });
    r.desired = replicas;
    while (r.replicas.length < replicas) {
      const rep: FakeReplica = { id: `${key}#${r.nextId++}`, state: 'pending', timer: null };
      r.replicas.push(rep);
      this.tryStart(r, rep);
    }
    while (r.replicas.length > replicas) {
      // Remove replicas that are not serving first, newest first.
      const order = ['pending', 'starting', 'ready'] as const;
      let idx = -1;
      for (const st of order) {
        for (let i = r.replicas.length - 1; i >= 0; i--) if (r.replicas[i]!.state === st) { idx = i; break; }
        if (idx >= 0) break;
      }
      const [rep] = r.replicas.splice(idx, 1);
      this.stop(r, rep!);
    }
  }

  async remove(key: string): Promise<void> {
    const r = this.revisions.get(key);
    if (!r) return;
    await this.scale(key, 0);
    this.revisions.delete(key);
  }

  counts(key: string): ReplicaCounts {
    const r = this.revisions.get(key);
    if (!r) return { desired: 0, starting: 0, ready: 0 };
    let ready = 0;
    for (const rep of r.replicas) if (rep.state === 'ready') ready++;
    return { desired: r.desired, ready, starting: r.replicas.length - ready };
  }

  endpoints(key: string): Endpoint[] {
    const r = this.revisions.get(key);
    if (!r) return [];
    return r.replicas.filter((x) => x.state === 'ready').map((x) => this.endpoint(r, x));
  }

  subscribe(listener: (e: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const key of [...this.revisions.keys()]) await this.remove(key);
    this.listeners.clear();
  }

  private tryStart(r: FakeRevision, rep: FakeReplica): void {
    if (this.opts.gpus && Object.values(r.gpus).some((n) => n > 0)) {
      if (!this.opts.gpus.allocate(r.key, rep.id, r.gpus)) return; // stays pending: no device free
    }
    rep.state = 'starting';
    const s = this.opts.startupMs;
    const ms = typeof s === 'function' ? s(r.key) : (s ?? 0);
    rep.timer = this.opts.clock.setTimeout(() => {
      rep.timer = null;
      rep.state = 'ready';
      this.emit({ type: 'ready', endpoint: this.endpoint(r, rep) });
    }, ms);
  }

  private stop(r: FakeRevision, rep: FakeReplica): void {
    if (rep.timer) this.opts.clock.clearTimeout(rep.timer);
    const wasReady = rep.state === 'ready';
    this.opts.gpus?.release(rep.id);
    if (wasReady) {
      this.emit({ type: 'draining', endpoint: this.endpoint(r, rep) });
      this.emit({ type: 'removed', endpoint: this.endpoint(r, rep), reason: 'scaled down' });
    }
    // A device freed: start a replica that was waiting for one (of any revision).
    if (this.opts.gpus) for (const other of this.revisions.values()) for (const p of other.replicas) if (p.state === 'pending') this.tryStart(other, p);
  }

  private endpoint(r: FakeRevision, rep: FakeReplica): Endpoint {
    return { id: rep.id, revisionKey: r.key, url: `http://fake/${rep.id}`, capacity: r.capacity };
  }

  private emit(e: EndpointEvent): void {
    for (const l of this.listeners) l(e);
  }
}
