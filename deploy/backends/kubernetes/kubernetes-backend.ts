/**
 * The Kubernetes backend: each revision is a Deployment (replicas only ever written through the `scale`
 * subresource) plus a Service; endpoints come from an EndpointSlice informer and replica counts from a
 * Deployment informer. Talks to the cluster only through @kubernetes/client-node, configured by a KubeConfig.
 * Stateless on the read side: a fresh instance (a gateway, or a restarted autoscaler) discovers every
 * revision's endpoints and capacity from the cluster without apply() having been called.
 */
import { ApiException, AppsV1Api, CoreV1Api, DiscoveryV1Api, NetworkingV1Api, type KubeConfig, type V1Deployment, type V1EndpointSlice, type V1Pod } from '@kubernetes/client-node';
import type { Revision } from '../../../api/revision.js';
import { revisionKey } from '../../../api/revision.js';
import { SystemClock, type Clock } from '../../../core/clock.js';
import type { Backend, Endpoint, EndpointEvent, ReplicaCounts } from '../../../api/backend.js';
import { ANNOTATION_FAILED, LABEL_CONTAINER_CONCURRENCY, LABEL_REVISION } from './labels.js';
import { revisionOfDeployment } from '../../kubernetes/revision-watch.js';
import { readinessPathFor } from '../../../activator/readiness-path.js';
import { renderDeployment, renderService, type RenderOptions } from './render-revision.js';
import { clientNetworkPolicy, renderNetworkPolicy, type NetworkPolicyOptions } from './render-network-policy.js';
import { ResilientInformer } from './resilient-informer.js';

export interface KubernetesBackendOptions {
  kubeConfig: KubeConfig;
  /** Watch one namespace; default every namespace (needs cluster-wide list/watch). */
  namespace?: string;
  clock?: Clock;
  render?: NetworkPolicyOptions;
  /**
   * Apply a NetworkPolicy per revision (ingress only from the gateways, egress as `sluice.dev/egress` says:
   * render-network-policy.ts). Default true; false where the cluster has no NetworkPolicy support wanted.
   */
  networkPolicies?: boolean;
  /** The owner of a revision's objects (its InferenceService), so deleting it garbage-collects them. */
  ownerOf?: (revision: Revision) => RenderOptions['owner'] | undefined;
  /** Attempts of a read-modify-write that keeps meeting 409 Conflict. Default 5. */
  conflictRetries?: number;
  /** Informer restart backoff after a watch error: first delay and cap, in ms. Default 100 and 5000. */
  restartBackoffMs?: { initial: number; max: number };
  /**
   * Watch the revisions' pods and report a replica that fails before it was ever ready (a container that exits
   * or cannot be created) as `start-failed`, as the local backend reports a process that exits before its
   * readiness probe passed. The controller sets it (it counts these against the revision); the gateway and
   * autoscaler do not need the pod watch. Default false.
   */
  watchPods?: boolean;
}

/** Container waiting reasons that mean the replica cannot start as specified: each is one failed start. */
const START_FAILURE_REASONS = new Set(['CrashLoopBackOff', 'ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

type EndpointState = 'ready' | 'draining';

interface Tracked {
  endpoint: Endpoint;
  state: EndpointState;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiException && err.code === 404;
}

function isConflict(err: unknown): boolean {
  return err instanceof ApiException && err.code === 409;
}

function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  if (i <= 0) throw new Error(`invalid revision key "${key}" (want <namespace>/<revision>)`);
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export class KubernetesBackend implements Backend {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly slices: ResilientInformer<V1EndpointSlice>;
  private readonly deployments: ResilientInformer<V1Deployment>;
  private readonly pods: ResilientInformer<V1Pod> | null = null;
  /**
   * Per pod (uid) that has not been ready yet: the failures already reported (restarts, or the waiting reason
   * last seen), so each is reported once. An entry goes when the pod turns ready or is deleted.
   */
  private readonly podFailures = new Map<string, { restarts: number; waiting: string }>();
  private readonly listeners = new Set<(e: EndpointEvent) => void>();
  /** Per revision key: its replicas' readiness path (null: TCP connect). Entries go with `published`'s. */
  private readonly readinessPaths = new Map<string, string | null>();
  /** Per revision key: the endpoints last published. Entries go when a revision has none left. */
  private readonly published = new Map<string, Map<string, Tracked>>();
  private readonly clock: Clock;
  private started: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: KubernetesBackendOptions) {
    const kc = opts.kubeConfig;
    this.clock = opts.clock ?? new SystemClock();
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.networking = kc.makeApiClient(NetworkingV1Api);
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    const ns = opts.namespace;
    const selector = LABEL_REVISION;
    const backoff = opts.restartBackoffMs ?? { initial: 100, max: 5000 };
    this.slices = new ResilientInformer<V1EndpointSlice>(
      kc,
      ns ? `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices` : '/apis/discovery.k8s.io/v1/endpointslices',
      () => (ns ? discovery.listNamespacedEndpointSlice({ namespace: ns, labelSelector: selector }) : discovery.listEndpointSliceForAllNamespaces({ labelSelector: selector })),
      selector,
      this.clock,
      backoff,
      (s) => this.reconcileEndpoints(s),
    );
    this.deployments = new ResilientInformer<V1Deployment>(
      kc,
      ns ? `/apis/apps/v1/namespaces/${ns}/deployments` : '/apis/apps/v1/deployments',
      () => (ns ? this.apps.listNamespacedDeployment({ namespace: ns, labelSelector: selector }) : this.apps.listDeploymentForAllNamespaces({ labelSelector: selector })),
      selector,
      this.clock,
      backoff,
      () => undefined,
    );
    if (opts.watchPods) {
      this.pods = new ResilientInformer<V1Pod>(
        kc,
        ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods',
        () => (ns ? this.core.listNamespacedPod({ namespace: ns, labelSelector: selector }) : this.core.listPodForAllNamespaces({ labelSelector: selector })),
        selector,
        this.clock,
        backoff,
        (p, deleted) => this.onPod(p, deleted),
      );
    }
  }

  /** Starts the informers and resolves once they have listed. Called by every method that needs them. */
  start(): Promise<void> {
    this.started ??= Promise.all([this.slices.start(), this.deployments.start(), this.pods?.start()]).then(() => undefined);
    return this.started;
  }

  /**
   * A revision's pod changed: a container of a pod that was never ready exited (its restart count grew, or the
   * pod failed) or waits for a reason that means it cannot start (CrashLoopBackOff, an image that cannot be
   * pulled, a bad config): one `start-failed` per such failure, with the container's own words.
   */
  private onPod(pod: V1Pod, deleted: boolean): void {
    const uid = pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const revision = pod.metadata?.labels?.[LABEL_REVISION];
    const ready = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
    if (deleted || ready || !revision) {
      this.podFailures.delete(uid);
      return;
    }
    const seen = this.podFailures.get(uid) ?? { restarts: 0, waiting: '' };
    const reasons: string[] = [];
    let restarts = 0;
    let waiting = '';
    for (const c of pod.status?.containerStatuses ?? []) {
      restarts += c.restartCount ?? 0;
      const w = c.state?.waiting?.reason;
      const t = c.state?.terminated ?? c.lastState?.terminated;
      if (w && START_FAILURE_REASONS.has(w)) waiting += `${c.name}:${w};`;
      if ((w && START_FAILURE_REASONS.has(w)) || t) {
        const exit = t ? `exited with code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}${t.message ? `: ${t.message.trim().slice(0, 300)}` : ''}` : '';
        const why = w && START_FAILURE_REASONS.has(w) ? `${w}${c.state?.waiting?.message ? `: ${c.state.waiting.message.slice(0, 300)}` : ''}` : '';
        // A crash loop's back-off note says nothing the exit does not; an image or config error says it all.
        reasons.push(`container ${c.name} ${exit && w === 'CrashLoopBackOff' ? exit : [exit, why].filter(Boolean).join('; ')}`);
      }
    }
    const podFailed = pod.status?.phase === 'Failed';
    const fresh = restarts > seen.restarts || (waiting !== '' && waiting !== seen.waiting && !/CrashLoopBackOff/.test(waiting)) || (podFailed && seen.waiting !== 'Failed');
    // Bounded: one entry per revision pod that is not ready, and the pods are bounded by the revisions' scale.
    this.podFailures.set(uid, { restarts, waiting: podFailed ? 'Failed' : waiting });
    if (!fresh) return;
    const ns = pod.metadata?.namespace ?? '';
    const key = revisionKey({ namespace: ns, name: revision });
    const reason = `pod ${pod.metadata?.name}: ${reasons.join('; ') || pod.status?.message || `phase ${pod.status?.phase}`}`;
    const endpoint: Endpoint = { id: `${key}#${pod.metadata?.name ?? uid}`, revisionKey: key, url: '', capacity: 0 };
    for (const l of this.listeners) l({ type: 'start-failed', endpoint, reason });
  }

  async apply(revision: Revision): Promise<void> {
    await this.start();
    await this.upsertDeployment(revision);
    await this.upsertService(revision);
    if (this.opts.networkPolicies !== false) await this.upsertNetworkPolicy(revision);
  }

  private async upsertNetworkPolicy(revision: Revision): Promise<void> {
    const desired = clientNetworkPolicy(renderNetworkPolicy(revision, this.renderOptions(revision)));
    const { namespace, name } = { namespace: revision.namespace, name: revision.name };
    for (let attempt = 0; ; attempt++) {
      try {
        const current = await this.networking.readNamespacedNetworkPolicy({ name, namespace });
        const body = { ...desired, metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion } };
        await this.networking.replaceNamespacedNetworkPolicy({ name, namespace, body });
        return;
      } catch (err) {
        if (isNotFound(err)) {
          try {
            await this.networking.createNamespacedNetworkPolicy({ namespace, body: desired });
            return;
          } catch (createErr) {
            if (!isConflict(createErr)) throw createErr;
          }
        } else if (!isConflict(err)) throw err;
        if (attempt + 1 >= (this.opts.conflictRetries ?? 5)) throw err;
      }
    }
  }

  private async upsertDeployment(revision: Revision): Promise<void> {
    const desired = renderDeployment(revision, this.renderOptions(revision));
    const { namespace, name } = { namespace: revision.namespace, name: revision.name };
    for (let attempt = 0; ; attempt++) {
      try {
        const current = await this.apps.readNamespacedDeployment({ name, namespace });
        // Never touch replicas here: they belong to the scale subresource. A failed revision stays marked failed.
        const failed = current.metadata?.annotations?.[ANNOTATION_FAILED];
        const body: V1Deployment = {
          ...desired,
          metadata: {
            ...desired.metadata,
            ...(failed !== undefined ? { annotations: { ...desired.metadata?.annotations, [ANNOTATION_FAILED]: failed } } : {}),
            resourceVersion: current.metadata?.resourceVersion,
          },
          spec: { ...desired.spec!, replicas: current.spec?.replicas ?? 0 },
        };
        await this.apps.replaceNamespacedDeployment({ name, namespace, body });
        return;
      } catch (err) {
        if (isNotFound(err)) {
          try {
            await this.apps.createNamespacedDeployment({ namespace, body: desired });
            return;
          } catch (createErr) {
            if (!isConflict(createErr)) throw createErr;
          }
        } else if (!isConflict(err)) throw err;
        if (attempt + 1 >= (this.opts.conflictRetries ?? 5)) throw err;
      }
    }
  }

  private async upsertService(revision: Revision): Promise<void> {
    const desired = renderService(revision, this.renderOptions(revision));
    const { namespace, name } = { namespace: revision.namespace, name: revision.name };
    for (let attempt = 0; ; attempt++) {
      try {
        const current = await this.core.readNamespacedService({ name, namespace });
        const body = {
          ...desired,
          metadata: { ...desired.metadata, resourceVersion: current.metadata?.resourceVersion },
          // clusterIP is assigned by the cluster and immutable.
          spec: { ...desired.spec!, clusterIP: current.spec?.clusterIP },
        };
        await this.core.replaceNamespacedService({ name, namespace, body });
        return;
      } catch (err) {
        if (isNotFound(err)) {
          try {
            await this.core.createNamespacedService({ namespace, body: desired });
            return;
          } catch (createErr) {
            if (!isConflict(createErr)) throw createErr;
          }
        } else if (!isConflict(err)) throw err;
        if (attempt + 1 >= (this.opts.conflictRetries ?? 5)) throw err;
      }
    }
  }

  private renderOptions(revision: Revision): NetworkPolicyOptions {
    const owner = this.opts.ownerOf?.(revision) ?? this.opts.render?.owner;
    return { ...this.opts.render, ...(owner ? { owner } : {}) };
  }

  /** Writes replicas through the Deployment's scale subresource only. */
  async markFailed(key: string, reason: string): Promise<void> {
    await this.start();
    const { namespace, name } = splitKey(key);
    for (let attempt = 0; ; attempt++) {
      try {
        const current = await this.apps.readNamespacedDeployment({ name, namespace });
        const body: V1Deployment = {
          ...current,
          metadata: { ...current.metadata, annotations: { ...current.metadata?.annotations, [ANNOTATION_FAILED]: reason.slice(0, 1024) } },
          spec: { ...current.spec!, replicas: 0 },
        };
        await this.apps.replaceNamespacedDeployment({ name, namespace, body });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (!isConflict(err) || attempt + 1 >= (this.opts.conflictRetries ?? 5)) throw err;
      }
    }
  }

  async scale(key: string, replicas: number): Promise<void> {
    if (!Number.isInteger(replicas) || replicas < 0) throw new Error(`replicas must be a non-negative integer, got ${replicas}`);
    const { namespace, name } = splitKey(key);
    // Unconditional (no resourceVersion): the autoscaler is the only writer of replicas; an equal value is a no-op.
    await this.apps.replaceNamespacedDeploymentScale({ name, namespace, body: { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name, namespace }, spec: { replicas } } });
  }

  async remove(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    for (const del of [
      () => this.apps.deleteNamespacedDeployment({ name, namespace, propagationPolicy: 'Background' }),
      () => this.core.deleteNamespacedService({ name, namespace }),
      ...(this.opts.networkPolicies !== false ? [() => this.networking.deleteNamespacedNetworkPolicy({ name, namespace })] : []),
    ]) {
      try {
        await del();
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }

  /** The revisions whose Deployments exist (read back by a restarted controller). */
  async listRevisions(): Promise<Revision[]> {
    // Straight from the API, not the cache: a new leader must see everything that exists now.
    const ns = this.opts.namespace;
    const list = ns
      ? await this.apps.listNamespacedDeployment({ namespace: ns, labelSelector: LABEL_REVISION })
      : await this.apps.listDeploymentForAllNamespaces({ labelSelector: LABEL_REVISION });
    const out: Revision[] = [];
    for (const d of list.items) {
      const rev = revisionOfDeployment(d);
      if (rev) out.push(rev);
    }
    return out;
  }

  counts(key: string): ReplicaCounts {
    const { namespace, name } = splitKey(key);
    const d = this.deployments.informer.get(name, namespace);
    if (!d) return { desired: 0, starting: 0, ready: 0 };
    const ready = d.status?.readyReplicas ?? 0;
    return { desired: d.spec?.replicas ?? 0, starting: Math.max(0, (d.status?.replicas ?? 0) - ready), ready };
  }

  endpoints(key: string): Endpoint[] {
    return [...(this.published.get(key)?.values() ?? [])].filter((t) => t.state === 'ready').map((t) => t.endpoint);
  }

  subscribe(listener: (event: EndpointEvent) => void): () => void {
    this.listeners.add(listener);
    void this.start().catch(() => undefined);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.slices.stop(), this.deployments.stop(), this.pods?.stop()]);
    this.listeners.clear();
  }

  /**
   * The runtime's own readiness path for a revision's replicas (activator/readiness-path.ts: KServe v1, Open
   * Inference Protocol v2, TorchServe), from the revision stored on its Deployment; the gateway's prober asks it
   * before a replica the EndpointSlice calls ready takes traffic. None (a TCP connect) for gRPC-only and custom
   * runtimes, whose HTTP readiness path is not known, and while the Deployment is not seen yet.
   */
  private readinessPath(ns: string, revision: string): string | undefined {
    const key = revisionKey({ namespace: ns, name: revision });
    if (this.readinessPaths.has(key)) return this.readinessPaths.get(key) ?? undefined;
    const d = this.deployments.informer.get(revision, ns);
    const rev = d ? revisionOfDeployment(d) : null;
    if (!rev) return undefined;
    const { runtime } = rev;
    const path =
      runtime.kind === 'custom' || runtime.protocolVersion.startsWith('grpc')
        ? null
        : readinessPathFor({ runtimeName: runtime.name, protocolVersion: runtime.protocolVersion, modelName: rev.runtimeModelName || rev.modelName });
    this.readinessPaths.set(key, path);
    return path ?? undefined;
  }

  /** Recomputes one revision's endpoints from every cached slice of it and publishes the difference. */
  private reconcileEndpoints(changed: V1EndpointSlice): void {
    const ns = changed.metadata?.namespace ?? '';
    const revision = changed.metadata?.labels?.[LABEL_REVISION];
    if (!revision) return;
    const key = revisionKey({ namespace: ns, name: revision });
    const next = new Map<string, Tracked>();
    for (const slice of this.slices.informer.list(ns)) {
      if (slice.metadata?.labels?.[LABEL_REVISION] !== revision) continue;
      const capacity = Number(slice.metadata?.labels?.[LABEL_CONTAINER_CONCURRENCY] ?? 0) || 0;
      // The HTTP port, else (a gRPC-only revision) the gRPC one; the gRPC port is announced as Endpoint.grpcUrl.
      const ports = slice.ports ?? [];
      const h2c = ports.find((p) => p.name === 'h2c');
      const port = ports.find((p) => p.name === 'http') ?? h2c ?? ports[0];
      if (!port?.port) continue;
      for (const ep of slice.endpoints ?? []) {
        const address = ep.addresses[0];
        if (!address) continue;
        const c = ep.conditions ?? {};
        const terminating = c.terminating === true;
        const serving = c.serving ?? c.ready ?? false;
        let state: EndpointState | null = null;
        if (c.ready === true && serving && !terminating) state = 'ready';
        else if (terminating && serving) state = 'draining';
        if (!state) continue;
        const host = address.includes(':') ? `[${address}]` : address;
        const id = `${key}#${ep.targetRef?.name ?? `${address}:${port.port}`}`;
        const grpcUrl = h2c?.port ? { grpcUrl: `http://${host}:${h2c.port}` } : {};
        const readinessPath = this.readinessPath(ns, revision);
        next.set(id, { state, endpoint: { id, revisionKey: key, url: `http://${host}:${port.port}`, capacity, ...grpcUrl, ...(readinessPath ? { readinessPath } : {}) } });
      }
    }
    const prev = this.published.get(key) ?? new Map<string, Tracked>();
    const events: EndpointEvent[] = [];
    for (const [id, t] of next) {
      const before = prev.get(id);
      if (t.state === 'ready' && before?.state !== 'ready') events.push({ type: 'ready', endpoint: t.endpoint });
      if (t.state === 'draining' && before?.state !== 'draining') {
        if (before) events.push({ type: 'draining', endpoint: t.endpoint });
        else next.delete(id); // never published as ready: nothing to drain
      }
    }
    for (const [id, t] of prev) {
      if (!next.has(id)) events.push({ type: 'removed', endpoint: t.endpoint, reason: 'endpoint left the EndpointSlice (pod deleted or not ready)' });
    }
    if (next.size === 0) {
      this.published.delete(key);
      this.readinessPaths.delete(key);
    }
    else this.published.set(key, next);
    for (const e of events) for (const l of [...this.listeners]) l(e);
  }
}
