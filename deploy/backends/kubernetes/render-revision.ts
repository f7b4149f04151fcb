/**
 * renderRevision: the Kubernetes objects of one revision — a Deployment (created with 0 replicas; the
 * autoscaler owns replicas through the scale subresource) and a Service whose EndpointSlices the data plane
 * reads. Pure: the same revision always renders the same objects. Used by the Kubernetes backend and
 * `sluice render`.
 */
import type { V1Container, V1Deployment, V1EnvVar, V1Probe, V1SecurityContext, V1Service, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { declaredGrpcPort, declaredHttpPort, type Revision } from '../../../api/revision.js';
import { renderNetworkPolicy, type NetworkPolicyOptions } from './render-network-policy.js';
import {
  ANNOTATION_REVISION_HASH,
  ANNOTATION_REVISION_SPEC,
  ANNOTATION_STORAGE_URI,
  LABEL_COMPONENT,
  LABEL_CONTAINER_CONCURRENCY,
  LABEL_ISVC,
  LABEL_MANAGED_BY,
  LABEL_REVISION,
} from './labels.js';

export interface RenderOptions {
  /** Image of the model-download init container (KServe's storage initializer). */
  storageInitializerImage?: string;
  /** Port the runtime container serves HTTP on (KServe's default 8080). */
  httpPort?: number;
  /** Port the runtime serves gRPC on (KServe's default 8081). */
  grpcPort?: number;
  /** Owner of the objects (the InferenceService), for garbage collection. */
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
  /**
   * `host[:port]` at which pods reach Sluice's gateway Service; a transformer's or explainer's `--predictor_host`
   * is this plus its predictor path. Default DEFAULT_GATEWAY_ADDRESS (deploy/manifests/base).
   */
  gatewayAddress?: string;
}

/** The gateway Service of deploy/manifests/base, as pods in other namespaces reach it. */
export const DEFAULT_GATEWAY_ADDRESS = 'sluice-gateway.sluice-system.svc';

export const DEFAULT_STORAGE_INITIALIZER_IMAGE = 'kserve/storage-initializer:v0.15.2';
export const MODEL_MOUNT_PATH = '/mnt/models';
const MODEL_VOLUME = 'kserve-provision-location';
const CONTAINER_NAME = 'kserve-container';
const POD_LEVEL_FIELDS = [
  'nodeSelector',
  'tolerations',
  'affinity',
  'serviceAccountName',
  'imagePullSecrets',
  'priorityClassName',
  'schedulerName',
  'runtimeClassName',
  'securityContext',
  'topologySpreadConstraints',
  'hostIPC',
] as const;

/**
 * What every container Sluice creates gets unless its spec says otherwise: no privilege escalation and no Linux
 * capabilities (model servers listen on ports above 1024 and need none), as KServe's own runtime manifests set.
 * Not set by default, because runtime images differ: `runAsNonRoot` (tensorflow/serving runs as root) and
 * `readOnlyRootFilesystem` (Python runtimes write caches under their home); the serving container's own
 * `securityContext` (`spec.predictor.model.securityContext`, or the served entry of `containers`) adds them, key by
 * key over these (docs/container.md, "Workloads Sluice creates").
 */
export function containerSecurityDefaults(): V1SecurityContext {
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
}
/** The pod's default: the container runtime's seccomp profile (Kubernetes' default is Unconfined). */
export function podSecurityDefaults(): Record<string, unknown> {
  return { seccompProfile: { type: 'RuntimeDefault' } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  if (!isRecord(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/**
 * Replicas a new revision's Deployment is created with: initial scale clamped to [min, max]. Every revision
 * after a service's first starts at least one replica whatever its initial scale, so it can prove itself ready
 * before traffic moves to it (docs/traffic.md, "When traffic moves").
 */
export function initialReplicas(revision: Revision): number {
  const a = revision.autoscaling;
  const initial = revision.generation > 1 ? Math.max(1, a.initialScale ?? 1) : (a.initialScale ?? 1);
  const max = a.maxReplicas > 0 ? a.maxReplicas : Infinity;
  return Math.min(max, Math.max(a.minReplicas, initial));
}

export function revisionLabels(revision: Revision): Record<string, string> {
  return {
    [LABEL_ISVC]: revision.service,
    [LABEL_REVISION]: revision.name,
    [LABEL_COMPONENT]: revision.component,
    [LABEL_MANAGED_BY]: 'sluice',
  };
}

/** Readiness on the runtime's health path: v2 → /v2/health/ready, v1 → /v1/models/<name>, gRPC → the port. */
export function readinessProbe(revision: Revision, httpPort: number, grpcPort: number): V1Probe {
  const timing = { periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 };
  switch (revision.runtime.protocolVersion) {
    case 'v2':
      return { httpGet: { path: '/v2/health/ready', port: httpPort }, ...timing };
    case 'v1':
      return { httpGet: { path: `/v1/models/${revision.runtimeModelName}`, port: httpPort }, ...timing };
    default:
      return { tcpSocket: { port: grpcPort }, ...timing };
  }
}

interface Storage {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  initContainers: V1Container[];
}

/** KServe's storage wiring: pvc:// mounts the claim; any other URI is downloaded by an init container. */
function storage(revision: Revision, image: string): Storage {
  const uri = revision.storageUri;
  if (!uri) return { volumes: [], mounts: [], initContainers: [] };
  const pvc = /^pvc:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (pvc) {
    return {
      volumes: [{ name: MODEL_VOLUME, persistentVolumeClaim: { claimName: pvc[1]!, readOnly: true } }],
      mounts: [{ name: MODEL_VOLUME, mountPath: MODEL_MOUNT_PATH, readOnly: true, ...(pvc[2] ? { subPath: pvc[2] } : {}) }],
      initContainers: [],
    };
  }
  return {
    volumes: [{ name: MODEL_VOLUME, emptyDir: {} }],
    mounts: [{ name: MODEL_VOLUME, mountPath: MODEL_MOUNT_PATH, readOnly: true }],
    initContainers: [
      {
        name: 'storage-initializer',
        image,
        args: [uri, MODEL_MOUNT_PATH],
        resources: { requests: { cpu: '100m', memory: '100Mi' }, limits: { cpu: '1', memory: '1Gi' } },
        terminationMessagePolicy: 'FallbackToLogsOnError',
        securityContext: containerSecurityDefaults(),
        volumeMounts: [{ name: MODEL_VOLUME, mountPath: MODEL_MOUNT_PATH }],
      },
    ],
  };
}

/** The serving container's own securityContext in the component spec: `model`'s, else the served `containers` entry's. */
function containerSecurityContext(componentSpec: Record<string, unknown>): Record<string, unknown> {
  const model = componentSpec['model'];
  if (isRecord(model) && isRecord(model['securityContext'])) return model['securityContext'];
  const containers = componentSpec['containers'];
  if (Array.isArray(containers) && containers.length > 0) {
    const served = containers.find((c) => isRecord(c) && c['name'] === CONTAINER_NAME) ?? containers[0];
    if (isRecord(served) && isRecord(served['securityContext'])) return served['securityContext'];
  }
  return {};
}

/** Container resources with the revision's GPUs as limits (Kubernetes requires extended resources in limits). */
function resources(revision: Revision): { requests?: Record<string, string>; limits?: Record<string, string> } {
  const limits = { ...revision.container.resources.limits };
  for (const [name, count] of Object.entries(revision.gpus)) if (count > 0 && limits[name] === undefined) limits[name] = String(count);
  const requests = { ...revision.container.resources.requests };
  return {
    ...(Object.keys(requests).length > 0 ? { requests } : {}),
    ...(Object.keys(limits).length > 0 ? { limits } : {}),
  };
}

/**
 * The ports a revision's container serves, as KServe reads a container's `ports`: the declared HTTP port (`http`,
 * `http1`), else `opts.httpPort` (8080) unless the revision speaks gRPC only; the declared gRPC port (`h2c`,
 * `grpc`, `grpc-…`), else `opts.grpcPort` (8081) when the revision speaks gRPC only, else none. Null: not served.
 * The Deployment names them `http` and `h2c`, and so do its Service and NetworkPolicy; the backend finds them
 * by those names in the EndpointSlice (Endpoint.url, Endpoint.grpcUrl).
 */
export function servingPorts(revision: Revision, opts: Pick<RenderOptions, 'httpPort' | 'grpcPort'> = {}): { http: number | null; grpc: number | null } {
  const declared = revision.container.ports;
  const grpcOnly = revision.runtime.protocolVersion.startsWith('grpc');
  const http = declaredHttpPort(declared)?.containerPort ?? (grpcOnly ? null : (opts.httpPort ?? 8080));
  const grpc = declaredGrpcPort(declared)?.containerPort ?? (grpcOnly ? (opts.grpcPort ?? 8081) : null);
  return { http, grpc };
}

/** Container, Service and NetworkPolicy port entries for `servingPorts`. */
function containerPorts(p: { http: number | null; grpc: number | null }): Array<{ name: string; containerPort: number; protocol: string }> {
  return [
    ...(p.http !== null ? [{ name: 'http', containerPort: p.http, protocol: 'TCP' }] : []),
    ...(p.grpc !== null ? [{ name: 'h2c', containerPort: p.grpc, protocol: 'TCP' }] : []),
  ];
}

export function renderDeployment(revision: Revision, opts: RenderOptions = {}): V1Deployment {
  const served = servingPorts(revision, opts);
  const httpPort = served.http ?? opts.httpPort ?? 8080;
  const grpcPort = served.grpc ?? opts.grpcPort ?? 8081;
  const labels = revisionLabels(revision);
  const componentSpec = isRecord(revision.spec) ? revision.spec : {};
  const store = storage(revision, opts.storageInitializerImage ?? DEFAULT_STORAGE_INITIALIZER_IMAGE);
  const env: V1EnvVar[] = Object.entries(revision.container.env).map(([name, value]) => ({ name, value }));
  const container: V1Container = {
    name: CONTAINER_NAME,
    image: revision.container.image,
    ...(revision.container.command.length > 0 ? { command: revision.container.command } : {}),
    ...(revision.container.args.length > 0 ? { args: chainArgs(revision, opts) } : {}),
    ...(env.length > 0 ? { env } : {}),
    ports: containerPorts(served),
    resources: resources(revision),
    readinessProbe: readinessProbe(revision, httpPort, grpcPort),
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: { ...containerSecurityDefaults(), ...containerSecurityContext(componentSpec) },
    ...(store.mounts.length > 0 ? { volumeMounts: store.mounts } : {}),
  };
  const podExtras: Record<string, unknown> = {};
  for (const k of POD_LEVEL_FIELDS) if (componentSpec[k] !== undefined) podExtras[k] = componentSpec[k];
  podExtras['securityContext'] = { ...podSecurityDefaults(), ...(isRecord(componentSpec['securityContext']) ? componentSpec['securityContext'] : {}) };
  const annotations = {
    ...stringMap(componentSpec['annotations']),
    [ANNOTATION_REVISION_HASH]: revision.hash,
    ...(revision.storageUri ? { [ANNOTATION_STORAGE_URI]: revision.storageUri } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: revision.name,
      namespace: revision.namespace,
      labels,
      // The revision itself travels with its Deployment: the gateway and autoscaler roles and a restarted
      // controller read it back from here.
      annotations: { [ANNOTATION_REVISION_HASH]: revision.hash, [ANNOTATION_REVISION_SPEC]: JSON.stringify(revision) },
      ...(opts.owner ? { ownerReferences: [{ ...opts.owner, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      // Created at the revision's initial scale (Knative's initial-scale, default 1); after that replicas
      // belong to the autoscaler, through the scale subresource.
      replicas: initialReplicas(revision),
      selector: { matchLabels: { [LABEL_REVISION]: revision.name } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '25%' } },
      template: {
        metadata: { labels: { ...stringMap(componentSpec['labels']), ...labels }, annotations },
        spec: {
          ...podExtras,
          ...(store.initContainers.length > 0 ? { initContainers: store.initContainers } : {}),
          containers: [container],
          ...(store.volumes.length > 0 ? { volumes: store.volumes } : {}),
          // In-flight requests may run up to the revision timeout after the pod is told to stop.
          terminationGracePeriodSeconds: Math.max(1, revision.timeoutSeconds),
        },
      },
    },
  } as V1Deployment;
}

/** A transformer's or explainer's `{{predictorHost}}` becomes the gateway's address plus its predictor path. */
function chainArgs(revision: Revision, opts: RenderOptions): string[] {
  if (revision.predictorPath === undefined) return revision.container.args;
  const host = `${opts.gatewayAddress ?? DEFAULT_GATEWAY_ADDRESS}${revision.predictorPath}`;
  return revision.container.args.map((a) => a.split('{{predictorHost}}').join(host));
}

export function renderService(revision: Revision, opts: RenderOptions = {}): V1Service {
  const served = servingPorts(revision, opts);
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: revision.name,
      namespace: revision.namespace,
      labels: { ...revisionLabels(revision), [LABEL_CONTAINER_CONCURRENCY]: String(revision.containerConcurrency) },
      ...(opts.owner ? { ownerReferences: [{ ...opts.owner, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      type: 'ClusterIP',
      selector: { [LABEL_REVISION]: revision.name },
      ports: [
        ...(served.http !== null ? [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] : []),
        ...(served.grpc !== null ? [{ name: 'h2c', port: 81, targetPort: 'h2c', protocol: 'TCP' }] : []),
      ],
    },
  } as V1Service;
}

/** The objects of one revision, in apply order: Deployment, Service, then its NetworkPolicy. */
export function renderRevision(revision: Revision, opts: NetworkPolicyOptions = {}): object[] {
  return [renderDeployment(revision, opts), renderService(revision, opts), renderNetworkPolicy(revision, opts)];
}
