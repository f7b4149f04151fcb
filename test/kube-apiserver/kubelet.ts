/**
 * A small kubelet + deployment controller + endpointslice controller for the test API server.
 * Turns Deployments into pods (`<deploy>-<template hash>-<rand>`), schedules them on nodes by extended
 * resources (nvidia.com/gpu), marks them Ready after a delay (or runs each as a real local process via
 * `podRunner`), finishes graceful deletions, writes Deployment status, and keeps EndpointSlices per Service
 * (ready/serving/terminating conditions; one slice per distinct port set, as Kubernetes groups them).
 * Simplifications: no ReplicaSets (pods are owned by the Deployment), a template change replaces pods at once.
 */
import { createHash } from 'node:crypto';
import type { Clock, TimerHandle } from '../../core/clock.js';
import { matchesLabelSelectorObject } from './selectors.js';
import type { ObjectStore } from './store.js';
import { clone, isObject, type KubeObject, type StoreEvent } from './types.js';

export interface RunningPod {
  /** Address the pod is reachable at (a real process: '127.0.0.1'). */
  ip: string;
  port: number;
  /** A pod that serves more than one port: its port per container port name (a Service's named targetPort). */
  ports?: Record<string, number>;
  stop(): Promise<void> | void;
}

/** Runs one pod as a real local process (or server); called once the pod is scheduled. */
export type PodRunner = (pod: KubeObject) => Promise<RunningPod> | RunningPod;

export interface NodeSpec {
  name: string;
  /** e.g. `{ cpu: '8', memory: '32Gi', pods: '110', 'nvidia.com/gpu': '2' }`. */
  allocatable: Record<string, string>;
  labels?: Record<string, string>;
}

export interface KubeletOptions {
  /** Delay between a pod being scheduled and it turning Ready (clock time). Default 0. */
  readyDelayMs?: number;
  /** Delay between a pod being marked for deletion and its removal, when no podRunner stops it. Default 0. */
  terminationDelayMs?: number;
  podRunner?: PodRunner;
  /**
   * When `podRunner` throws (the container exited before it was up), the pod is restarted as a Deployment's
   * pod is (restartPolicy Always): it stays Running and not ready, its container shows the exit in
   * `lastState.terminated`, `restartCount` grows and it waits in CrashLoopBackOff for this long (clock time,
   * doubling per restart up to 5 minutes, as the kubelet backs off) before the next try. Default 10 s.
   */
  crashBackoffMs?: number;
  /** Default: one node `node-1` with cpu 8, memory 32Gi, pods 110. */
  nodes?: NodeSpec[];
}

const SERVICE_NAME = 'kubernetes.io/service-name';
const MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
const MANAGER = 'endpointslice-controller.k8s.io';
const UNSCHEDULABLE_IGNORED = new Set(['cpu', 'memory', 'ephemeral-storage', 'pods']);

interface PodState {
  phase: 'scheduling' | 'starting' | 'running' | 'stopping' | 'failed';
  runner: RunningPod | null;
  timer: TimerHandle | null;
  /** Times the container exited before it was up (CrashLoopBackOff). */
  restarts?: number;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function obj(v: unknown): Record<string, unknown> {
  return isObject(v) ? v : {};
}

function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < 5; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

export function podTemplateHash(template: unknown): string {
  return createHash('sha256').update(JSON.stringify(template ?? {})).digest('hex').slice(0, 10);
}

/** Extended-resource requests of a pod (GPUs and the like), summed over its containers. */
export function extendedRequests(pod: KubeObject): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of arr(obj(pod['spec'])['containers'])) {
    const res = obj(obj(c)['resources']);
    const req = { ...obj(res['limits']), ...obj(res['requests']) };
    for (const [k, v] of Object.entries(req)) {
      if (UNSCHEDULABLE_IGNORED.has(k)) continue;
      out.set(k, (out.get(k) ?? 0) + Number(v));
    }
  }
  return out;
}

export class Kubelet {
  private readonly pods = new Map<string, PodState>();
  private unsubscribe: (() => void) | null = null;
  private scheduled = false;
  private closed = false;
  private nextIp = 2;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly opts: KubeletOptions = {},
  ) {}

  start(): void {
    this.store.gracefulPodDeletion = true;
    const nodeType = this.store.type('', 'v1', 'nodes');
    const nodes = this.opts.nodes ?? [{ name: 'node-1', allocatable: { cpu: '8', memory: '32Gi', pods: '110' } }];
    for (const n of nodes) {
      this.store.create(nodeType, undefined, {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, ...(n.labels ?? {}) } },
        spec: {},
      });
      const created = this.store.get(nodeType, undefined, n.name);
      created['status'] = {
        capacity: n.allocatable,
        allocatable: n.allocatable,
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: timestamp(this.clock.now()) }],
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }, { type: 'Hostname', address: n.name }],
      };
      this.store.update(nodeType, undefined, n.name, created, 'status');
    }
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
    this.kick();
  }

  /** Stops every running pod process. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    const stops: Promise<void>[] = [];
    for (const s of this.pods.values()) {
      if (s.timer) this.clock.clearTimeout(s.timer);
      if (s.runner) stops.push(Promise.resolve(s.runner.stop()));
    }
    await Promise.allSettled([...stops, ...this.pending]);
    this.pods.clear();
  }

  private onEvent(e: StoreEvent): void {
    if (['apps/deployments', '/pods', '/services', '/nodes', 'discovery.k8s.io/endpointslices'].includes(e.resource)) this.kick();
  }

  private kick(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.closed) return;
      this.reconcile();
    });
  }

  private get t() {
    return {
      pods: this.store.type('', 'v1', 'pods'),
      deployments: this.store.type('apps', 'v1', 'deployments'),
      services: this.store.type('', 'v1', 'services'),
      nodes: this.store.type('', 'v1', 'nodes'),
      slices: this.store.type('discovery.k8s.io', 'v1', 'endpointslices'),
    };
  }

  private reconcile(): void {
    for (const d of this.store.list(this.t.deployments).items) this.reconcileDeployment(d);
    for (const p of this.store.list(this.t.pods).items) this.reconcilePod(p);
    const live = new Set(this.store.list(this.t.pods).items.map((p) => p.metadata.uid!));
    for (const [uid, s] of this.pods) {
      if (live.has(uid)) continue;
      if (s.timer) this.clock.clearTimeout(s.timer);
      if (s.runner && s.phase !== 'stopping') this.track(Promise.resolve(s.runner.stop()));
      this.pods.delete(uid);
    }
    for (const svc of this.store.list(this.t.services).items) this.reconcileSlices(svc);
  }

  private track(p: Promise<unknown>): void {
    const q = p.catch(() => undefined).finally(() => this.pending.delete(q));
    this.pending.add(q);
  }

  private reconcileDeployment(d: KubeObject): void {
    if (d.metadata.deletionTimestamp) return;
    const spec = obj(d['spec']);
    const template = obj(spec['template']);
    const hash = podTemplateHash(template);
    const replicas = typeof spec['replicas'] === 'number' ? spec['replicas'] : 1;
    const owned = this.store
      .list(this.t.pods, { namespace: d.metadata.namespace! })
      .items.filter((p) => (p.metadata.ownerReferences ?? []).some((r) => r.uid === d.metadata.uid));
    const live = owned.filter((p) => !p.metadata.deletionTimestamp);
    const current = live.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash);
    for (const p of live) if (p.metadata.labels?.['pod-template-hash'] !== hash) this.store.delete(this.t.pods, p.metadata.namespace, p.metadata.name!);
    if (current.length < replicas) {
      for (let i = current.length; i < replicas; i++) this.createPod(d, template, hash);
    } else if (current.length > replicas) {
      const victims = [...current].sort((a, b) => Number(isReady(a)) - Number(isReady(b)) || str(b.metadata.creationTimestamp).localeCompare(str(a.metadata.creationTimestamp)) || Number(b.metadata.resourceVersion) - Number(a.metadata.resourceVersion));
      for (const p of victims.slice(0, current.length - replicas)) this.store.delete(this.t.pods, p.metadata.namespace, p.metadata.name!);
    }
    const after = this.store
      .list(this.t.pods, { namespace: d.metadata.namespace! })
      .items.filter((p) => (p.metadata.ownerReferences ?? []).some((r) => r.uid === d.metadata.uid) && !p.metadata.deletionTimestamp);
    const ready = after.filter(isReady).length;
    const updated = after.filter((p) => p.metadata.labels?.['pod-template-hash'] === hash).length;
    const status: Record<string, unknown> = { observedGeneration: d.metadata.generation };
    // Kubernetes omits zero counts.
    if (after.length > 0) status['replicas'] = after.length;
    if (updated > 0) status['updatedReplicas'] = updated;
    if (ready > 0) status['readyReplicas'] = ready;
    if (ready > 0) status['availableReplicas'] = ready;
    if (after.length - ready > 0) status['unavailableReplicas'] = after.length - ready;
    const prev = obj(d['status']);
    const available = ready >= replicas;
    const prevCond = arr(prev['conditions']).map(obj).find((c) => c['type'] === 'Available');
    const since = prevCond && prevCond['status'] === (available ? 'True' : 'False') ? str(prevCond['lastTransitionTime']) : timestamp(this.clock.now());
    status['conditions'] = [
      {
        type: 'Available',
        status: available ? 'True' : 'False',
        reason: available ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
        message: available ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
        lastUpdateTime: since,
        lastTransitionTime: since,
      },
    ];
    this.store.update(this.t.deployments, d.metadata.namespace, d.metadata.name!, { ...d, status }, 'status');
  }

  private createPod(d: KubeObject, template: Record<string, unknown>, hash: string): void {
    const tplMeta = obj(template['metadata']);
    const labels = { ...(obj(tplMeta['labels']) as Record<string, string>), 'pod-template-hash': hash };
    this.store.create(this.t.pods, d.metadata.namespace, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${d.metadata.name!}-${hash}-${randomSuffix()}`,
        namespace: d.metadata.namespace!,
        labels,
        annotations: obj(tplMeta['annotations']) as Record<string, string>,
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: d.metadata.name!, uid: d.metadata.uid!, controller: true, blockOwnerDeletion: true }],
      },
      spec: clone(obj(template['spec'])),
    });
  }

  private reconcilePod(p: KubeObject): void {
    const uid = p.metadata.uid!;
    let s = this.pods.get(uid);
    if (p.metadata.deletionTimestamp) {
      if (s?.phase === 'stopping') return;
      if (!s) {
        s = { phase: 'stopping', runner: null, timer: null };
        this.pods.set(uid, s);
      }
      this.terminate(p, s);
      return;
    }
    if (!s) {
      s = { phase: 'scheduling', runner: null, timer: null };
      this.pods.set(uid, s);
    }
    if (s.phase === 'scheduling') this.schedule(p, s);
  }

  private schedule(p: KubeObject, s: PodState): void {
    let nodeName = str(obj(p['spec'])['nodeName']);
    if (!nodeName) {
      const node = this.pickNode(p);
      if (!node) {
        this.setStatus(p, {
          phase: 'Pending',
          conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `0/${this.store.list(this.t.nodes).items.length} nodes are available: insufficient resources.` }],
        });
        return;
      }
      nodeName = node;
      const bound = this.store.get(this.t.pods, p.metadata.namespace, p.metadata.name!);
      bound['spec'] = { ...obj(bound['spec']), nodeName };
      this.store.update(this.t.pods, p.metadata.namespace, p.metadata.name!, bound);
    }
    s.phase = 'starting';
    const at = this.clock.now();
    this.setStatus(p, {
      phase: 'Pending',
      conditions: [
        { type: 'PodScheduled', status: 'True', lastTransitionTime: timestamp(at) },
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: timestamp(at) },
      ],
    });
    s.timer = this.clock.setTimeout(() => {
      s.timer = null;
      this.track(this.run(p, s));
    }, this.opts.readyDelayMs ?? 0);
  }

  private async run(p: KubeObject, s: PodState): Promise<void> {
    let ip: string;
    try {
      if (this.opts.podRunner) {
        const fresh = this.store.tryGet(this.t.pods, p.metadata.namespace, p.metadata.name!);
        if (!fresh || fresh.metadata.deletionTimestamp) return;
        s.runner = await this.opts.podRunner(fresh);
        ip = s.runner.ip;
        if (this.closed || s.phase !== 'starting') {
          await s.runner.stop();
          return;
        }
      } else ip = `10.244.0.${this.nextIp++ % 250}`;
    } catch (err) {
      if (this.closed || s.phase !== 'starting') return;
      // restartPolicy Always: the container is restarted after a growing back-off; the pod stays Running, not ready.
      s.restarts = (s.restarts ?? 0) + 1;
      const at = timestamp(this.clock.now());
      const message = err instanceof Error ? err.message : String(err);
      const exitCode = typeof (err as { exitCode?: unknown }).exitCode === 'number' ? (err as { exitCode: number }).exitCode : 1;
      const backoff = Math.min(300_000, (this.opts.crashBackoffMs ?? 10_000) * 2 ** (s.restarts - 1));
      const containers = arr(obj(p['spec'])['containers']).map(obj);
      this.setStatus(p, {
        phase: 'Running',
        conditions: [
          { type: 'PodScheduled', status: 'True', lastTransitionTime: at },
          { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at },
          { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: at },
        ],
        containerStatuses: containers.map((c) => ({
          name: str(c['name']),
          image: str(c['image']),
          ready: false,
          started: false,
          restartCount: s.restarts,
          state: { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(backoff / 1000)}s restarting failed container=${str(c['name'])} pod=${p.metadata.name}` } },
          lastState: { terminated: { exitCode, reason: 'Error', message, finishedAt: at } },
        })),
      });
      s.timer = this.clock.setTimeout(() => {
        s.timer = null;
        if (s.phase === 'starting') this.track(this.run(p, s));
      }, backoff);
      return;
    }
    s.phase = 'running';
    const at = timestamp(this.clock.now());
    const containers = arr(obj(p['spec'])['containers']).map(obj);
    this.setStatus(p, {
      phase: 'Running',
      hostIP: '127.0.0.1',
      podIP: ip,
      podIPs: [{ ip }],
      startTime: at,
      conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: at })),
      containerStatuses: containers.map((c) => ({ name: str(c['name']), image: str(c['image']), ready: true, started: true, restartCount: s.restarts ?? 0, state: { running: { startedAt: at } } })),
    });
  }

  private terminate(p: KubeObject, s: PodState): void {
    const wasStarting = s.phase === 'starting' || s.phase === 'scheduling';
    s.phase = 'stopping';
    if (s.timer) {
      this.clock.clearTimeout(s.timer);
      s.timer = null;
    }
    const finish = () => {
      if (this.closed) return;
      const current = this.store.tryGet(this.t.pods, p.metadata.namespace, p.metadata.name!);
      if (current && current.metadata.uid === p.metadata.uid) {
        this.store.delete(this.t.pods, p.metadata.namespace, p.metadata.name!, { gracePeriodSeconds: 0 });
      }
    };
    if (s.runner) {
      const runner = s.runner;
      this.track(Promise.resolve(runner.stop()).then(finish, finish));
    } else if (wasStarting || !this.opts.terminationDelayMs) {
      setImmediate(finish);
    } else {
      s.timer = this.clock.setTimeout(finish, this.opts.terminationDelayMs);
    }
  }

  private setStatus(p: KubeObject, status: Record<string, unknown>): void {
    const current = this.store.tryGet(this.t.pods, p.metadata.namespace, p.metadata.name!);
    if (!current || current.metadata.uid !== p.metadata.uid) return;
    this.store.update(this.t.pods, p.metadata.namespace, p.metadata.name!, { ...current, status: { ...obj(current['status']), ...status } }, 'status');
  }

  private pickNode(p: KubeObject): string | null {
    const want = extendedRequests(p);
    const pods = this.store.list(this.t.pods).items;
    for (const n of this.store.list(this.t.nodes).items) {
      const alloc = obj(obj(n['status'])['allocatable']);
      const used = new Map<string, number>();
      for (const other of pods) {
        if (other.metadata.uid === p.metadata.uid || str(obj(other['spec'])['nodeName']) !== n.metadata.name) continue;
        for (const [k, v] of extendedRequests(other)) used.set(k, (used.get(k) ?? 0) + v);
      }
      let fits = true;
      for (const [k, v] of want) if (Number(alloc[k] ?? 0) - (used.get(k) ?? 0) < v) fits = false;
      if (fits) return n.metadata.name!;
    }
    return null;
  }

  /** Endpoint slices for one Service, grouped by the port set of their pods. */
  private reconcileSlices(svc: KubeObject): void {
    const spec = obj(svc['spec']);
    const selector = obj(spec['selector']) as Record<string, string>;
    if (Object.keys(selector).length === 0) return;
    const ns = svc.metadata.namespace!;
    const svcName = svc.metadata.name!;
    const pods = this.store
      .list(this.t.pods, { namespace: ns })
      .items.filter((p) => matchesLabelSelectorObject({ matchLabels: selector }, p.metadata.labels) && str(obj(p['status'])['podIP']) !== '');
    const groups = new Map<string, { ports: object[]; endpoints: object[] }>();
    for (const p of pods) {
      const runner = this.pods.get(p.metadata.uid!)?.runner ?? null;
      const ports = arr(spec['ports']).map(obj).map((sp) => ({
        name: str(sp['name']),
        protocol: str(sp['protocol']) || 'TCP',
        port: runner ? (runner.ports?.[str(sp['targetPort'])] ?? runner.port) : resolveTargetPort(sp, p),
      }));
      const key = JSON.stringify(ports);
      const g = groups.get(key) ?? { ports, endpoints: [] };
      const ready = isReady(p);
      const terminating = !!p.metadata.deletionTimestamp;
      g.endpoints.push({
        addresses: [str(obj(p['status'])['podIP'])],
        conditions: { ready: ready && !terminating, serving: ready, terminating },
        nodeName: str(obj(p['spec'])['nodeName']) || undefined,
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name, uid: p.metadata.uid },
      });
      groups.set(key, g);
    }
    const existing = this.store
      .list(this.t.slices, { namespace: ns, labels: [{ op: 'eq', key: SERVICE_NAME, value: svcName }, { op: 'eq', key: MANAGED_BY, value: MANAGER }] })
      .items.filter((s) => !s.metadata.deletionTimestamp);
    const unused = [...existing];
    // With no endpoints Kubernetes still keeps one (empty) slice for the Service.
    const wanted = groups.size === 0 ? [{ ports: [] as object[], endpoints: [] as object[] }] : [...groups.values()];
    // Keep endpoints in the slice that already has their port set; reuse other slices only after that.
    const exact = new Map<(typeof wanted)[number], KubeObject>();
    for (const g of wanted) {
      const i = unused.findIndex((s) => JSON.stringify(s['ports'] ?? []) === JSON.stringify(g.ports));
      if (i >= 0) exact.set(g, unused.splice(i, 1)[0]!);
    }
    for (const g of wanted) {
      const slice = exact.get(g) ?? unused.shift() ?? null;
      const body = {
        addressType: 'IPv4',
        ports: g.ports,
        endpoints: JSON.parse(JSON.stringify(g.endpoints)) as object[],
      };
      if (slice) {
        const labels = { ...(svc.metadata.labels ?? {}), [SERVICE_NAME]: svcName, [MANAGED_BY]: MANAGER };
        this.store.update(this.t.slices, ns, slice.metadata.name!, { ...slice, ...body, metadata: { ...slice.metadata, labels } });
      } else {
        this.store.create(this.t.slices, ns, {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: {
            generateName: `${svcName}-`,
            namespace: ns,
            // Like Kubernetes' controller, the slice carries the Service's labels.
            labels: { ...(svc.metadata.labels ?? {}), [SERVICE_NAME]: svcName, [MANAGED_BY]: MANAGER },
            ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svcName, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }],
          },
          ...body,
        });
      }
    }
    for (const s of unused) this.store.delete(this.t.slices, ns, s.metadata.name!);
  }
}

function isReady(p: KubeObject): boolean {
  return arr(obj(p['status'])['conditions']).some((c) => obj(c)['type'] === 'Ready' && obj(c)['status'] === 'True');
}

function resolveTargetPort(servicePort: Record<string, unknown>, pod: KubeObject): number {
  const target = servicePort['targetPort'] ?? servicePort['port'];
  if (typeof target === 'number') return target;
  for (const c of arr(obj(pod['spec'])['containers'])) {
    for (const cp of arr(obj(c)['ports'])) if (obj(cp)['name'] === target) return Number(obj(cp)['containerPort']);
  }
  return Number(servicePort['port']);
}
