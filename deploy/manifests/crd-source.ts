/**
 * The one source of Sluice's CustomResourceDefinitions: InferenceService (v1beta1), ServingRuntime and
 * ClusterServingRuntime (v1alpha1) in KServe's shape, for any API group. `npm run gen:crds` writes them as
 * YAML under deploy/manifests/crds/ (serving.sluice.dev) and deploy/manifests/crds-kserve/ (serving.kserve.io).
 *
 * Pod and container fields are listed by name with their top-level types taken from the Kubernetes models of
 * @kubernetes/client-node; the nested Kubernetes types below them (affinity, volumes, probes, …) are kept as
 * `x-kubernetes-preserve-unknown-fields` objects so the schema stays a readable size.
 */
import { V1Container, V1PodSpec } from '@kubernetes/client-node';

export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  format?: string;
  enum?: (string | number)[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  required?: string[];
  default?: unknown;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
}

export const SLUICE_GROUP = 'serving.sluice.dev';
export const KSERVE_GROUP = 'serving.kserve.io';

const str = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
const int = (description?: string, extra: Partial<Schema> = {}): Schema => ({ type: 'integer', format: 'int64', ...(description ? { description } : {}), ...extra });
const bool = (description?: string): Schema => ({ type: 'boolean', ...(description ? { description } : {}) });
const obj = (properties: Record<string, Schema>, description?: string, required?: string[]): Schema => ({
  type: 'object',
  ...(description ? { description } : {}),
  properties,
  ...(required ? { required } : {}),
});
const arr = (items: Schema, description?: string): Schema => ({ type: 'array', ...(description ? { description } : {}), items });
const stringMap = (description?: string): Schema => ({ type: 'object', ...(description ? { description } : {}), additionalProperties: { type: 'string' } });
/** A nested Kubernetes type whose own schema is not repeated here. */
const k8s = (typeName: string): Schema => ({ type: 'object', description: `Kubernetes ${typeName}.`, 'x-kubernetes-preserve-unknown-fields': true });
const quantity: Schema = { 'x-kubernetes-int-or-string': true, description: 'Kubernetes resource quantity, e.g. 500m, 2Gi, 1.' };

const resources: Schema = obj(
  {
    limits: { type: 'object', additionalProperties: quantity },
    requests: { type: 'object', additionalProperties: quantity },
    claims: arr(k8s('ResourceClaim')),
  },
  'Compute resources (cpu, memory, nvidia.com/gpu, …).',
);

interface Attribute {
  baseName: string;
  type: string;
  format: string;
}

/** Top-level schema of one field, from the client models' attribute type map. */
function fromAttribute(a: Attribute, overrides: Record<string, Schema>): Schema {
  const o = overrides[a.baseName];
  if (o) return o;
  const t = a.type;
  if (t === 'string') return { type: 'string' };
  if (t === 'boolean') return { type: 'boolean' };
  if (t === 'number') return { type: 'integer', format: a.format || 'int32' };
  if (t === '{ [key: string]: string; }') return { type: 'object', additionalProperties: { type: 'string' } };
  const m = /^Array<(.+)>$/.exec(t);
  if (m) {
    const inner = m[1]!;
    if (inner === 'string') return arr({ type: 'string' });
    return arr(k8s(inner.replace(/^(Core)?V1/, '')));
  }
  return k8s(t.replace(/^(Core)?V1/, ''));
}

function fieldsOf(model: { getAttributeTypeMap(): Attribute[] }, overrides: Record<string, Schema> = {}, skip: string[] = []): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  for (const a of model.getAttributeTypeMap()) if (!skip.includes(a.baseName)) out[a.baseName] = fromAttribute(a, overrides);
  return out;
}

/** Container fields one level deep (name, image, args, env, resources, probes, …). */
export function containerFields(): Record<string, Schema> {
  return fieldsOf(V1Container, { resources, env: arr(obj({ name: str(), value: str(), valueFrom: k8s('EnvVarSource') }, undefined, ['name'])) });
}

function container(): Schema {
  return { type: 'object', properties: containerFields(), required: ['name'] };
}

/** PodSpec fields inlined in a component (containers, volumes, nodeSelector, tolerations, …). */
function podSpecFields(): Record<string, Schema> {
  return fieldsOf(V1PodSpec, { containers: arr(container()), initContainers: arr(container()), resources });
}

const scaleMetric: Schema = { type: 'string', enum: ['cpu', 'memory', 'concurrency', 'rps'], description: 'Metric the autoscaler watches.' };

function componentExtensionFields(): Record<string, Schema> {
  return {
    minReplicas: int('Minimum replicas; 0 enables scale to zero.', { format: undefined, minimum: 0 }),
    maxReplicas: int('Maximum replicas; 0 means no limit.', { format: undefined, minimum: 0 }),
    scaleTarget: int('Per-replica target of scaleMetric.', { format: undefined, minimum: 0 }),
    scaleMetric,
    scaleMetricType: { type: 'string', enum: ['Utilization', 'AverageValue', 'Value'] },
    containerConcurrency: int('Hard limit of concurrent requests per replica; 0 = unbounded.', { minimum: 0 }),
    timeout: int('Request timeout in seconds.', { minimum: 0 }),
    canaryTrafficPercent: int('Percent of traffic sent to the latest revision during a canary rollout.', { minimum: 0, maximum: 100 }),
    logger: obj({
      url: str('Sink for logged requests/responses.'),
      mode: { type: 'string', enum: ['all', 'request', 'response'], default: 'all' },
      metadataHeaders: arr(str()),
      metadataAnnotations: arr(str()),
      storage: obj({ path: str(), key: str(), parameters: stringMap(), serviceAccountName: str() }),
    }),
    batcher: obj({
      maxBatchSize: int('Largest batch sent to the model.', { format: undefined, minimum: 1 }),
      maxLatency: int('Longest wait in milliseconds before a partial batch is sent.', { format: undefined, minimum: 1 }),
      timeout: int('Request timeout in seconds.', { format: undefined, minimum: 1 }),
    }),
    labels: stringMap('Labels added to the component pods.'),
    annotations: stringMap('Annotations added to the component pods (autoscaling knobs live here).'),
    deploymentStrategy: k8s('DeploymentStrategy'),
  };
}

const storageSpec: Schema = obj({ path: str(), schemaPath: str(), parameters: stringMap(), key: str(), storageKey: str() });

/** Fields of a framework key (sklearn, pytorch, …): storage plus inline container fields. */
function predictorExtensionFields(): Record<string, Schema> {
  return {
    storageUri: str('Where the model is: gs://, s3://, pvc://, https://, hf://, a local path.'),
    runtimeVersion: str('Overrides the runtime image tag.'),
    protocolVersion: { type: 'string', enum: ['v1', 'v2', 'grpc-v1', 'grpc-v2'] },
    storage: storageSpec,
    ...containerFields(),
  };
}

function frameworkSpec(description: string): Schema {
  return { type: 'object', description, properties: predictorExtensionFields() };
}

function podComponent(description: string, extra: Record<string, Schema>): Schema {
  return { type: 'object', description, properties: { ...extra, ...podSpecFields(), ...componentExtensionFields() } };
}

/** Sluice's per-component traffic extensions (`traffic`, `rollout`): on the predictor, transformer and explainer. */
function trafficExtensionFields(): Record<string, Schema> {
  return {
    traffic: arr(
      obj({
        revisionName: str('A revision of this InferenceService.'),
        latestRevision: bool('Target the latest ready revision instead of a named one.'),
        percent: int('Share of requests; 0 for a tag-only entry.', { format: undefined, minimum: 0, maximum: 100 }),
        tag: str('Name that reaches this revision: <tag>-<name>.<ns>.<domain>, x-sluice-tag, /serving/<ns>/<name>/tags/<tag>/.'),
      }, undefined, ['percent']),
      'Sluice extension: an explicit traffic split (percents sum to 100) or tag-only entries (all 0). See docs/traffic.md.',
    ),
    rollout: obj(
      {
        steps: arr(int(undefined, { format: undefined, minimum: 1, maximum: 100 }), 'Canary percents, strictly increasing.'),
        dwellSeconds: { type: 'number', minimum: 0, description: 'Least time per step.' },
        maxErrorRateDelta: { type: 'number', minimum: 0, maximum: 1, description: 'Most the canary error rate may exceed the stable one (fraction).' },
        maxP99Ratio: { type: 'number', minimum: 1, description: "Most the canary p99 model latency may be, as a multiple of the stable revision's." },
        minRequests: int('Canary requests per step before it is judged.', { format: undefined, minimum: 1 }),
      },
      'Sluice extension: progressive delivery policy. See docs/traffic.md.',
      ['steps'],
    ),
  };
}

function predictor(): Schema {
  const frameworks: Record<string, string> = {
    sklearn: 'scikit-learn model.',
    xgboost: 'XGBoost model.',
    tensorflow: 'TensorFlow SavedModel.',
    pytorch: 'PyTorch (TorchServe) model.',
    triton: 'NVIDIA Triton model repository.',
    onnx: 'ONNX model.',
    huggingface: 'Hugging Face model.',
    pmml: 'PMML model.',
    lightgbm: 'LightGBM model.',
    paddle: 'PaddlePaddle model.',
  };
  const keys: Record<string, Schema> = {};
  for (const [k, d] of Object.entries(frameworks)) keys[k] = frameworkSpec(d);
  return podComponent('The model server: one framework key, `model`, or custom containers.', {
    ...keys,
    ...trafficExtensionFields(),
    model: {
      type: 'object',
      description: 'Model with its format; the runtime is selected from the catalogue unless `runtime` names one.',
      properties: {
        modelFormat: obj({ name: str('Format name, e.g. sklearn, onnx, pytorch.'), version: str() }, undefined, ['name']),
        runtime: str('ServingRuntime or ClusterServingRuntime to use.'),
        ...predictorExtensionFields(),
      },
      required: ['modelFormat'],
    },
    workerSpec: { type: 'object', description: 'Worker pods for multi-node serving.', properties: { ...podSpecFields(), pipelineParallelSize: int(undefined, { format: undefined }), tensorParallelSize: int(undefined, { format: undefined }) } },
  });
}

function explainer(): Schema {
  return podComponent('Explanation server.', {
    ...trafficExtensionFields(),
    art: {
      type: 'object',
      properties: {
        type: { type: 'string', enum: ['SquareAttack'] },
        config: stringMap(),
        storageUri: str(),
        runtimeVersion: str(),
        storage: storageSpec,
        ...containerFields(),
      },
      required: ['type'],
    },
  });
}

const condition: Schema = obj(
  {
    type: str(),
    status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
    severity: str(),
    lastTransitionTime: { type: 'string', format: 'date-time' },
    reason: str(),
    message: str(),
  },
  undefined,
  ['type', 'status'],
);

const addressable: Schema = obj({ url: str(), name: str(), audience: str(), CACerts: str() });

function componentStatus(): Schema {
  return obj({
    latestCreatedRevision: str(),
    latestReadyRevision: str(),
    latestRolledoutRevision: str(),
    previousRolledoutRevision: str(),
    traffic: arr(
      obj({
        tag: str(),
        revisionName: str(),
        configurationName: str(),
        latestRevision: bool(),
        percent: int(undefined, { minimum: 0, maximum: 100 }),
        url: str(),
      }),
    ),
    url: str(),
    restUrl: str(),
    grpcUrl: str(),
    address: addressable,
    rollout: rolloutStatus(),
  });
}

/**
 * Sluice: where a progressive rollout (`rollout:` policy) of a component stands. A newly elected controller carries
 * on from it (deploy/kubernetes/cluster-controller.ts), so every field it needs to resume is here.
 */
function rolloutStatus(): Schema {
  return obj({
    revision: str('The revision being rolled out (the canary).'),
    stable: str('The revision it replaces.'),
    phase: str('Progressing, Succeeded or RolledBack.'),
    step: int('Index into the policy\'s steps.', { format: undefined }),
    stepStartedAt: { type: 'string', format: 'date-time', description: 'When the current step (and its comparison window) began.' },
    canaryReady: bool('The canary has been ready since stepStartedAt.'),
    message: str(),
  });
}

function isvcStatus(): Schema {
  return obj({
    observedGeneration: int(),
    url: str('Where clients reach the service.'),
    address: addressable,
    conditions: arr(condition),
    annotations: stringMap(),
    components: { type: 'object', properties: { predictor: componentStatus(), transformer: componentStatus(), explainer: componentStatus() } },
    rollout: rolloutStatus(),
    modelStatus: obj({
      transitionStatus: str(),
      states: obj({ activeModelState: str(), targetModelState: str() }),
      lastFailureInfo: obj({ location: str(), reason: str(), message: str(), modelRevisionName: str(), time: { type: 'string', format: 'date-time' }, exitCode: { type: 'integer', format: 'int32' } }),
      copies: obj({ failedCopies: { type: 'integer' }, totalCopies: { type: 'integer' } }),
    }),
    deploymentMode: str(),
    servingRuntimeName: str(),
    // Sluice: the service's recent events (newest last, at most 50), e.g. each rollout step taken.
    events: arr(obj({ type: str(), reason: str(), message: str(), time: { type: 'string', format: 'date-time' } })),
    // Sluice: each revision's state. The cluster gateway reads `ready` and `failed` from here
    // (deploy/kubernetes/service-routing.ts).
    revisions: arr({
      type: 'object',
      properties: {
        name: str(),
        ready: bool('It has been ready at least once.'),
        failed: str('Why the revision could not become ready; requests for it are answered 503.'),
      },
      'x-kubernetes-preserve-unknown-fields': true,
    }),
  });
}

function topLevel(spec: Schema, status: Schema, specRequired: boolean): Schema {
  return {
    type: 'object',
    properties: { apiVersion: str(), kind: str(), metadata: { type: 'object' }, spec, status },
    ...(specRequired ? { required: ['spec'] } : {}),
  };
}

function servingRuntimeSpec(): Schema {
  return {
    type: 'object',
    properties: {
      supportedModelFormats: arr(
        obj({
          name: str(),
          version: str(),
          autoSelect: bool('May be chosen automatically for this format.'),
          priority: { type: 'integer', format: 'int32', minimum: 1, description: 'Higher wins among auto-selectable runtimes.' },
        }, undefined, ['name']),
      ),
      protocolVersions: arr({ type: 'string', enum: ['v1', 'v2', 'grpc-v1', 'grpc-v2'] }),
      multiModel: bool(),
      disabled: bool(),
      grpcEndpoint: str(),
      grpcDataEndpoint: str(),
      httpDataEndpoint: str(),
      replicas: { type: 'integer', format: 'int32', minimum: 0 },
      storageHelper: obj({ disabled: bool() }),
      builtInAdapter: obj({
        serverType: str(),
        runtimeManagementPort: { type: 'integer' },
        memBufferBytes: { type: 'integer' },
        modelLoadingTimeoutMillis: { type: 'integer' },
        env: arr(k8s('EnvVar')),
      }),
      annotations: stringMap(),
      labels: stringMap(),
      workerSpec: { type: 'object', properties: { ...podSpecFields(), pipelineParallelSize: { type: 'integer' }, tensorParallelSize: { type: 'integer' } } },
      ...podSpecFields(),
    },
    required: ['containers'],
  };
}

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'date';
  jsonPath: string;
}

function crd(group: string, kind: string, plural: string, scope: 'Namespaced' | 'Cluster', version: string, schema: Schema, columns: PrinterColumn[], shortNames: string[], status: boolean): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}`, labels: { 'app.kubernetes.io/name': 'sluice', 'app.kubernetes.io/component': 'crd' } },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), ...(shortNames.length ? { shortNames } : {}) },
      scope,
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          additionalPrinterColumns: columns,
          schema: { openAPIV3Schema: schema },
          subresources: status ? { status: {} } : {},
        },
      ],
    },
  };
}

const ISVC_COLUMNS: PrinterColumn[] = [
  { name: 'URL', type: 'string', jsonPath: '.status.url' },
  { name: 'Ready', type: 'string', jsonPath: ".status.conditions[?(@.type=='Ready')].status" },
  { name: 'Prev', type: 'integer', jsonPath: ".status.components.predictor.traffic[?(@.tag=='prev')].percent" },
  { name: 'Latest', type: 'integer', jsonPath: '.status.components.predictor.traffic[?(@.latestRevision==true)].percent' },
  { name: 'PrevRolledoutRevision', type: 'string', jsonPath: ".status.components.predictor.traffic[?(@.tag=='prev')].revisionName" },
  { name: 'LatestReadyRevision', type: 'string', jsonPath: '.status.components.predictor.traffic[?(@.latestRevision==true)].revisionName' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

const RUNTIME_COLUMNS: PrinterColumn[] = [
  { name: 'Disabled', type: 'boolean', jsonPath: '.spec.disabled' },
  { name: 'ModelType', type: 'string', jsonPath: '.spec.supportedModelFormats[*].name' },
  { name: 'Containers', type: 'string', jsonPath: '.spec.containers[*].name' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
];

const runtimeStatus: Schema = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

/** The three CRDs for one API group, in apply order. */
export function servingCrds(group: string = SLUICE_GROUP): { file: string; object: object }[] {
  const isvcSpec: Schema = {
    type: 'object',
    properties: { predictor: predictor(), transformer: podComponent('Pre/post-processing in front of the predictor.', trafficExtensionFields()), explainer: explainer() },
    required: ['predictor'],
  };
  return [
    { file: `${group}_inferenceservices.yaml`, object: crd(group, 'InferenceService', 'inferenceservices', 'Namespaced', 'v1beta1', topLevel(isvcSpec, isvcStatus(), true), ISVC_COLUMNS, ['isvc'], true) },
    { file: `${group}_servingruntimes.yaml`, object: crd(group, 'ServingRuntime', 'servingruntimes', 'Namespaced', 'v1alpha1', topLevel(servingRuntimeSpec(), runtimeStatus, false), RUNTIME_COLUMNS, [], true) },
    { file: `${group}_clusterservingruntimes.yaml`, object: crd(group, 'ClusterServingRuntime', 'clusterservingruntimes', 'Cluster', 'v1alpha1', topLevel(servingRuntimeSpec(), runtimeStatus, false), RUNTIME_COLUMNS, [], true) },
  ];
}
