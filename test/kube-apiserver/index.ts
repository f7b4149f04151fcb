/**
 * startTestApiServer: an in-process Kubernetes API server (plus an optional kubelet) on a loopback port,
 * with a kubeconfig file for `@kubernetes/client-node`'s KubeConfig.loadFromFile.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SystemClock, type Clock } from '../../core/clock.js';
import { Kubelet, type KubeletOptions } from './kubelet.js';
import { writeKubeconfig } from './kubeconfig.js';
import { servingCrds } from '../../deploy/manifests/crd-source.js';
import { builtinResources, ResourceRegistry } from './resources.js';
import { ApiHttpServer } from './server.js';
import { ObjectStore } from './store.js';
import { TestReviews } from './reviews.js';
import type { KubeObject } from './types.js';

export type { KubeObject } from './types.js';
export type { KubeletOptions, NodeSpec, PodRunner, RunningPod } from './kubelet.js';
export { ObjectStore } from './store.js';
export { TestReviews, type TestAccessRule, type TestUser } from './reviews.js';

export interface TestApiServerOptions {
  /** Groups whose CRDs (deploy/manifests/crd-source.ts) are installed at start. Default Sluice's and KServe's. */
  servingGroups?: string[];
  /** Namespaces that exist at start. Default ['default', 'kube-system']. */
  namespaces?: string[];
  /** Events kept for resuming watches; older resourceVersions answer 410 Gone. Default 1000. */
  historySize?: number;
  /** Interval of BOOKMARK events on watches that allow them. Default 1000 ms. */
  bookmarkIntervalMs?: number;
  /** Concurrent watches served; more answer 429. Default 256. */
  maxWatches?: number;
  /** Unsent bytes after which a slow watch is disconnected. Default 8 MiB. */
  maxWatchBufferedBytes?: number;
  /** Kubelet (pods, deployment status, endpoint slices, nodes). Default on with default options; false = off. */
  kubelet?: KubeletOptions | false;
  /** Clock for timestamps, bookmarks and kubelet delays. Default SystemClock. */
  clock?: Clock;
  /** Bearer token required on every request. Default random. */
  token?: string;
}

export interface TestApiServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  kubeconfigPath: string;
  token: string;
  store: ObjectStore;
  kubelet: Kubelet | null;
  /** TokenReview / SubjectAccessReview behaviour: set `reviews.tokens` (token → user) and `reviews.rules` (grants). */
  reviews: TestReviews;
  /** Reads one object, or undefined. */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  /** Lists objects of a kind (one namespace, or all). */
  list(apiVersion: string, kind: string, namespace?: string): KubeObject[];
  /** Creates, or replaces unconditionally, an object (like `kubectl apply` without field management). */
  apply(obj: KubeObject): KubeObject;
  /** Deletes an object (finalizers and graceful pod deletion honoured). */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void;
  /** Sets what metrics.k8s.io reports for a pod: usage per container, e.g. `{ main: { cpu: '250m', memory: '300Mi' } }`. */
  setPodMetrics(namespace: string, pod: string, usage: Record<string, { cpu: string; memory: string }>): void;
  /** Resolves with the first truthy result of `probe`, re-evaluated after every store change; rejects after timeoutMs. */
  waitFor<T>(probe: () => T | undefined | null | false, timeoutMs?: number): Promise<T>;
  /** Forgets the event history and ends every open watch with ERROR 410 Gone (clients must relist). */
  expireWatches(): void;
  /** Breaks every open watch connection without a final event. */
  dropWatches(): void;
  openWatches(): number;
  /** The last requests served (method, path with query), oldest first; bounded to 2000. */
  requestLog(): { method: string; path: string }[];
  close(): Promise<void>;
}

export async function startTestApiServer(opts: TestApiServerOptions = {}): Promise<TestApiServer> {
  const clock = opts.clock ?? new SystemClock();
  const registry = new ResourceRegistry(builtinResources());
  const store = new ObjectStore({
    registry,
    clock,
    historySize: opts.historySize ?? 1000,
    namespaces: opts.namespaces ?? ['default', 'kube-system'],
  });
  // Sluice's CRDs are installed as on a real cluster: their custom resources are pruned and validated.
  const crdType = store.type('apiextensions.k8s.io', 'v1', 'customresourcedefinitions');
  for (const group of opts.servingGroups ?? ['serving.sluice.dev', 'serving.kserve.io']) {
    for (const { object } of servingCrds(group)) store.create(crdType, undefined, object as KubeObject);
  }
  const token = opts.token ?? randomBytes(16).toString('hex');
  const reviews = new TestReviews();
  const api = new ApiHttpServer(store, clock, {
    token,
    reviews,
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000,
    maxBodyBytes: 3 * 1024 * 1024,
    maxWatchBufferedBytes: opts.maxWatchBufferedBytes ?? 8 * 1024 * 1024,
    maxWatches: opts.maxWatches ?? 256,
  });
  await new Promise<void>((resolve, reject) => {
    api.server.once('error', reject);
    api.server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
  const kc = writeKubeconfig(url, token);
  const kubelet = opts.kubelet === false ? null : new Kubelet(store, clock, opts.kubelet ?? {});
  kubelet?.start();

  const waiters = new Set<() => void>();
  const unsubscribe = store.subscribe(() => {
    for (const w of [...waiters]) w();
  });

  return {
    url,
    kubeconfigPath: kc.path,
    token,
    store,
    kubelet,
    reviews,
    get: (apiVersion, kind, namespace, name) => store.tryGet(store.typeOf(apiVersion, kind), namespace, name),
    list: (apiVersion, kind, namespace) => store.list(store.typeOf(apiVersion, kind), namespace === undefined ? {} : { namespace }).items,
    apply(obj) {
      const t = store.typeOf(obj.apiVersion, obj.kind);
      const ns = t.namespaced ? (obj.metadata.namespace ?? 'default') : undefined;
      const existing = obj.metadata.name ? store.tryGet(t, ns, obj.metadata.name) : undefined;
      if (!existing) return store.create(t, ns, obj);
      const { resourceVersion: _rv, ...meta } = obj.metadata;
      return store.update(t, ns, obj.metadata.name!, { ...obj, metadata: meta });
    },
    setPodMetrics(namespace, pod, usage) {
      const t = store.typeOf('metrics.k8s.io/v1beta1', 'PodMetrics');
      const body: KubeObject = {
        apiVersion: 'metrics.k8s.io/v1beta1',
        kind: 'PodMetrics',
        // metrics-server labels PodMetrics like their pods, so label selectors work.
        metadata: { name: pod, namespace, labels: store.tryGet(store.type('', 'v1', 'pods'), namespace, pod)?.metadata.labels ?? {} },
        timestamp: new Date(clock.now()).toISOString(),
        window: '15s',
        containers: Object.entries(usage).map(([name, u]) => ({ name, usage: u })),
      };
      if (store.tryGet(t, namespace, pod)) store.update(t, namespace, pod, body);
      else store.create(t, namespace, body);
    },
    remove(apiVersion, kind, namespace, name) {
      store.delete(store.typeOf(apiVersion, kind), namespace, name);
    },
    waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 5000): Promise<T> {
      const failure = new Error(`waitFor: condition not met within ${timeoutMs} ms`);
      return new Promise<T>((resolve, reject) => {
        const check = (): boolean => {
          const v = probe();
          if (v === undefined || v === null || v === false) return false;
          cleanup();
          resolve(v);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(failure);
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(onChange);
        };
        const onChange = () => void check();
        if (!check()) waiters.add(onChange);
      });
    },
    expireWatches: () => api.expireWatches(),
    dropWatches: () => api.dropWatches(),
    openWatches: () => api.openWatches(),
    requestLog: () => api.requestLog(),
    async close() {
      unsubscribe();
      await kubelet?.close();
      api.closeWatches();
      api.server.closeAllConnections();
      await new Promise<void>((resolve) => api.server.close(() => resolve()));
      rmSync(kc.dir, { recursive: true, force: true });
    },
  };
}
