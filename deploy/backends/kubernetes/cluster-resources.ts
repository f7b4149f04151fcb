/**
 * What the autoscaler reads from the cluster besides replicas: GPU capacity (nodes' allocatable extended
 * resources minus what scheduled pods request) and a revision's CPU/memory use from metrics.k8s.io relative
 * to its pods' requests (for scaleMetric cpu | memory). Plain list calls through @kubernetes/client-node.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { LABEL_REVISION } from './labels.js';
import { parseQuantity } from './quantity.js';

export interface NodeCapacity {
  node: string;
  /** Extended resource name, e.g. `nvidia.com/gpu`. */
  resource: string;
  allocatable: number;
  /** Requested by pods scheduled on the node that have not finished. */
  requested: number;
  free: number;
}

export interface RevisionUsage {
  /** Pods of the revision that metrics.k8s.io reported. */
  pods: number;
  /** Cores in use, summed over those pods. */
  cpu: number;
  memoryBytes: number;
  /** Requests of those pods (0 when a pod requests none). */
  cpuRequest: number;
  memoryRequestBytes: number;
  /** Use as a percent of requests (what `scaleTarget` means for cpu/memory); null without requests. */
  cpuPercent: number | null;
  memoryPercent: number | null;
}

const COMPUTE = new Set(['cpu', 'memory', 'ephemeral-storage', 'pods', 'hugepages-1Gi', 'hugepages-2Mi']);

function podRequests(pod: V1Pod): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of pod.spec?.containers ?? []) {
    // Extended resources must be in limits; requests default to limits.
    const merged: Record<string, string> = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
    for (const [k, v] of Object.entries(merged)) out.set(k, (out.get(k) ?? 0) + parseQuantity(v));
  }
  return out;
}

interface MetricsItem {
  metadata?: { name?: string };
  containers?: { name: string; usage?: { cpu?: string; memory?: string } }[];
}

export class ClusterResources {
  private readonly core: CoreV1Api;
  private readonly custom: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.custom = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  /** Per node and extended resource (GPUs and the like; cpu/memory excluded): allocatable, requested, free. */
  async extendedCapacity(): Promise<NodeCapacity[]> {
    const [nodes, pods] = await Promise.all([
      this.core.listNode({}),
      this.core.listPodForAllNamespaces({ fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' }),
    ]);
    const used = new Map<string, Map<string, number>>();
    for (const p of pods.items) {
      const node = p.spec?.nodeName;
      if (!node) continue;
      const perNode = used.get(node) ?? new Map<string, number>();
      for (const [k, v] of podRequests(p)) perNode.set(k, (perNode.get(k) ?? 0) + v);
      used.set(node, perNode);
    }
    const out: NodeCapacity[] = [];
    for (const n of nodes.items) {
      const name = n.metadata?.name ?? '';
      for (const [resource, q] of Object.entries(n.status?.allocatable ?? {})) {
        if (COMPUTE.has(resource)) continue;
        const allocatable = parseQuantity(q);
        const requested = used.get(name)?.get(resource) ?? 0;
        out.push({ node: name, resource, allocatable, requested, free: Math.max(0, allocatable - requested) });
      }
    }
    return out;
  }

  /** CPU and memory of a revision's pods from metrics.k8s.io, against their requests. */
  async revisionUsage(namespace: string, revision: string): Promise<RevisionUsage> {
    const labelSelector = `${LABEL_REVISION}=${revision}`;
    const [pods, metrics] = await Promise.all([
      this.core.listNamespacedPod({ namespace, labelSelector }),
      this.custom.listNamespacedCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', namespace, plural: 'pods', labelSelector }) as Promise<{ items?: MetricsItem[] }>,
    ]);
    const byName = new Map(pods.items.map((p) => [p.metadata?.name ?? '', p]));
    const usage: RevisionUsage = { pods: 0, cpu: 0, memoryBytes: 0, cpuRequest: 0, memoryRequestBytes: 0, cpuPercent: null, memoryPercent: null };
    for (const m of metrics.items ?? []) {
      const pod = byName.get(m.metadata?.name ?? '');
      if (!pod || pod.metadata?.deletionTimestamp) continue;
      usage.pods++;
      for (const c of m.containers ?? []) {
        usage.cpu += parseQuantity(c.usage?.cpu ?? '0');
        usage.memoryBytes += parseQuantity(c.usage?.memory ?? '0');
      }
      const req = podRequests(pod);
      usage.cpuRequest += req.get('cpu') ?? 0;
      usage.memoryRequestBytes += req.get('memory') ?? 0;
    }
    usage.cpuPercent = usage.cpuRequest > 0 ? (100 * usage.cpu) / usage.cpuRequest : null;
    usage.memoryPercent = usage.memoryRequestBytes > 0 ? (100 * usage.memoryBytes) / usage.memoryRequestBytes : null;
    return usage;
  }
}
