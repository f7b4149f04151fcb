import type { BatcherSettings } from './batcher.js';

/**
 * A revision: an immutable snapshot of one component of an InferenceService, with its runtime resolved.
 * Named `<isvc>-<component>-<5-digit generation>`, e.g. `iris-predictor-00001`.
 */

/** Autoscaling settings of a revision, after defaulting from the component fields and annotations. */
export interface AutoscalingSpec {
  /** `concurrency` | `rps` | `cpu` | `memory`. */
  metric: 'concurrency' | 'rps' | 'cpu' | 'memory';
  /** Per-replica target for the metric (concurrency, rps or percent of cpu/memory); null → the default. */
  target: number | null;
  /** Percent of target at which replicas count as full (Knative's target-utilization-percentage). */
  targetUtilizationPercent: number | null;
  minReplicas: number;
  maxReplicas: number;
  initialScale: number | null;
  activationScale: number | null;
  stableWindowSeconds: number | null;
  panicWindowPercent: number | null;
  panicThresholdPercent: number | null;
  scaleDownDelaySeconds: number | null;
  scaleToZeroRetentionSeconds: number | null;
  targetBurstCapacity: number | null;
  /** Sluice's policies beyond the KPA, from `autoscaling.sluice.dev/*` annotations (absent = defaults). */
  sluice?: {
    windowAlgorithm?: 'linear' | 'weighted-exponential';
    keepWarm?: 'fixed' | 'adaptive';
    startupAware?: boolean;
  };
}

/** How the local backend starts one replica of a runtime (data from the catalogue, not code). */
export interface LocalLaunchRecipe {
  /** Executable; `{{node}}` is Node's own binary, `{{python}}` the runtimes' virtualenv Python. */
  command: string;
  /** Arguments; templates: {{port}} {{modelName}} {{modelDir}} {{storageUri}} {{sluiceRoot}}. */
  args: string[];
  env: Record<string, string>;
  /** Readiness path probed on the replica's port; `{{modelName}}` is replaced. */
  readinessPath: string;
  /** Seconds to wait for readiness before the replica counts as failed. */
  startupTimeoutSeconds: number;
  /**
   * The replica's stdin: `pipe` (default; it closes when Sluice dies, so a runtime that watches it exits too) or
   * `null` for runtimes that misbehave with a socket on stdin (Triton's python backend).
   */
  stdin?: 'pipe' | 'null';
}

export interface ResolvedContainer {
  image: string;
  command: string[];
  args: string[];
  env: Record<string, string>;
  resources: {
    requests: Record<string, string>;
    limits: Record<string, string>;
  };
  /**
   * The container's declared ports (`ports` of the model spec, else of the runtime's container), as KServe reads
   * them: one named `h2c`, `grpc` or `grpc-…` is the gRPC port, one named `http` or `http1` the HTTP port. The
   * Kubernetes backend serves and announces them; locally the recipe's `{{grpcPort}}` decides. Absent: none.
   */
  ports?: ContainerPortSpec[];
}

export interface ContainerPortSpec {
  name?: string;
  containerPort: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

/** The gRPC port among declared ports: named `h2c` (KServe), `grpc` or `grpc-…`. */
export function declaredGrpcPort(ports: readonly ContainerPortSpec[] | undefined): ContainerPortSpec | undefined {
  return ports?.find((p) => p.name !== undefined && (p.name === 'h2c' || p.name === 'grpc' || p.name.startsWith('grpc-')));
}

/** The HTTP port among declared ports: named `http` or `http1` (Knative's name). */
export function declaredHttpPort(ports: readonly ContainerPortSpec[] | undefined): ContainerPortSpec | undefined {
  return ports?.find((p) => p.name === 'http' || p.name === 'http1');
}

export interface Revision {
  /** `<isvc>-<component>-<00001>`. */
  name: string;
  namespace: string;
  /** The InferenceService's name. */
  service: string;
  component: 'predictor' | 'transformer' | 'explainer';
  /** 1, 2, 3, … per component. */
  generation: number;
  /** Content hash of the serving spec the revision was made from. */
  hash: string;
  createdAt: string;
  /** The component spec exactly as it was (after normalisation), kept for inspection. */
  spec: unknown;
  /** Model name clients use in URLs (the InferenceService name, as in KServe). */
  modelName: string;
  /** Name the runtime serves the model under (usually modelName; TorchServe's config may differ). */
  runtimeModelName: string;
  runtime: {
    name: string;
    kind: 'ClusterServingRuntime' | 'ServingRuntime' | 'custom';
    protocolVersion: 'v1' | 'v2' | 'grpc-v1' | 'grpc-v2';
  };
  storageUri: string | null;
  container: ResolvedContainer;
  /** 0 = unbounded. */
  containerConcurrency: number;
  /** Request batching (`spec.<component>.batcher`, defaults applied); null or absent: none. */
  batcher?: BatcherSettings | null;
  timeoutSeconds: number;
  autoscaling: AutoscalingSpec;
  /** GPUs per replica by resource name (`nvidia.com/gpu` → 1), empty when none. */
  gpus: Record<string, number>;
  /** Recipe for the local backend, when the runtime has one. */
  local: LocalLaunchRecipe | null;
  /**
   * Egress the replicas may have in Kubernetes mode, from `sluice.dev/egress` (object- or component-level):
   * CIDRs allowed besides DNS. Absent: not restricted (the NetworkPolicy then limits ingress only).
   */
  networkEgress?: readonly string[];
  /**
   * A transformer's or explainer's way to its predictor: the path on Sluice's data port that routes to the
   * service's predictor (`/serving/<ns>/<name>-predictor`). The backend turns it into KServe's `--predictor_host`
   * (the `{{predictorHost}}` template). Absent on predictors.
   */
  predictorPath?: string;
}

export function revisionName(service: string, component: string, generation: number): string {
  return `${service}-${component}-${String(generation).padStart(5, '0')}`;
}

/** Key used across the system for a revision: `<namespace>/<revision name>`. */
export function revisionKey(rev: { namespace: string; name: string }): string {
  return `${rev.namespace}/${rev.name}`;
}
