/**
 * KServe `serving.kserve.io/v1beta1` InferenceService, validated at the boundary. One schema; errors name the
 * field path and the allowed values; unknown fields are reported. The legacy framework keys (`sklearn:` …) are
 * rewritten to `model:` (see normalize.ts), so the parsed object always has `model` or `containers`.
 */
import { z } from 'zod';
import { ValidationError, type FieldIssue } from '../core/errors.js';
import { checkAnnotations } from './annotations.js';
import { inactiveFieldWarning, inactiveFields } from './inactive-fields.js';
import { toFieldIssuesAll } from './issues.js';
import { LEGACY_FRAMEWORKS, rewriteLegacyPredictor, type LegacyFramework } from './normalize.js';
import {
  containerFields,
  dns1035Label,
  dns1123Label,
  opaque,
  protocolVersion,
  stringMap,
  strictObject,
} from './schema-parts.js';
import { rolloutPolicy, trafficList } from './traffic-spec.js';

export type { ProtocolVersion } from './schema-parts.js';

export const API_VERSION = 'serving.kserve.io/v1beta1';
export const SCALE_METRICS = ['concurrency', 'rps', 'cpu', 'memory'] as const;

const modelFormat = strictObject({
  name: z.string().min(1),
  version: z.string().optional(),
});

/** Fields a framework predictor carries (KServe's PredictorExtensionSpec: a container plus these). */
const predictorExtensionFields = {
  ...containerFields,
  storageUri: z.string().min(1).optional(),
  runtimeVersion: z.string().min(1).optional(),
  protocolVersion: protocolVersion.optional(),
};

const modelSpec = strictObject({
  modelFormat,
  runtime: z.string().min(1).optional(),
  ...predictorExtensionFields,
});

const legacyFrameworkSpec = strictObject(predictorExtensionFields);

const container = strictObject({
  ...containerFields,
  name: z.string().min(1).default('kserve-container'),
  image: z.string().min(1),
});

/** KServe's batcher (api/batcher.ts: meanings, defaults and bounds). */
const batcher = strictObject({
  maxBatchSize: z.number().int().min(1).max(4096).optional(),
  maxLatency: z.number().int().min(1).max(60_000).optional(),
  timeout: z.number().int().min(1).max(3600).optional(),
});

/**
 * Request/response logging (KServe's LoggerSpec): where the CloudEvents go and which. Sluice needs the URL (there
 * is no cluster default broker): `http(s)://…` for an HTTP sink, or `file:///absolute/path.jsonl` for a local
 * JSON-lines file (embedded mode). docs/observability.md.
 */
const logger = strictObject({
  url: z.string().refine(isLoggerUrl, {
    message: 'expected an absolute http://, https:// or file:/// URL, e.g. http://logger.example/ or file:///var/log/iris.jsonl',
  }),
  mode: z.enum(['all', 'request', 'response']).default('all'),
});

/** An http(s) URL with a host, or a file: URL with an absolute path. */
function isLoggerUrl(u: string): boolean {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return false;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return /^https?:\/\/[^/]/i.test(u) && url.hostname !== '';
  return url.protocol === 'file:' && /^file:\/\/\/./i.test(u);
}

/** KServe's ComponentExtensionSpec plus the pod fields people put beside it. */
const componentFields = {
  minReplicas: z.number().int().min(0).optional(),
  maxReplicas: z.number().int().min(0).optional(),
  scaleTarget: z.number().int().min(1).optional(),
  scaleMetric: z.enum(SCALE_METRICS).optional(),
  containerConcurrency: z.number().int().min(0).optional(),
  timeout: z.number().int().min(1).optional(),
  canaryTrafficPercent: z.number().int().min(0).max(100).optional(),
  batcher: batcher.optional(),
  logger: logger.optional(),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
  serviceAccountName: z.string().optional(),
  nodeSelector: stringMap.optional(),
  tolerations: opaque.optional(),
  affinity: opaque.optional(),
  volumes: opaque.optional(),
  imagePullSecrets: opaque.optional(),
};

const legacyShape = Object.fromEntries(LEGACY_FRAMEWORKS.map((k) => [k, legacyFrameworkSpec.optional()])) as Record<
  LegacyFramework,
  z.ZodOptional<typeof legacyFrameworkSpec>
>;

const IMPLEMENTATIONS = ['model', ...LEGACY_FRAMEWORKS, 'containers'] as const;

const rawPredictor = strictObject({
  model: modelSpec.optional(),
  ...legacyShape,
  containers: z.array(container).min(1).optional(),
  ...componentFields,
  /** Sluice extension: explicit traffic targets or extra tags (docs/traffic.md). */
  traffic: trafficList.optional(),
  /** Sluice extension: progressive delivery policy (docs/traffic.md). */
  rollout: rolloutPolicy.optional(),
});

/** KServe's TransformerSpec: a pod (its containers) plus the component fields; no model format (KServe has none). */
const transformer = strictObject({
  containers: z.array(container).min(1),
  ...componentFields,
  /** Sluice extension: this component's explicit traffic targets or extra tags (docs/traffic.md). */
  traffic: trafficList.optional(),
  /** Sluice extension: this component's progressive delivery policy (docs/traffic.md). */
  rollout: rolloutPolicy.optional(),
});

/**
 * KServe's ExplainerSpec: a custom explainer's containers plus the component fields. KServe's built-in explainer
 * runtimes (`art`, and `alibi` before it) have no runtime in Sluice's catalogue; they are refused with a field error
 * (explainerIssues) rather than accepted and ignored.
 */
const explainer = strictObject({
  containers: z.array(container).min(1),
  ...componentFields,
  traffic: trafficList.optional(),
  rollout: rolloutPolicy.optional(),
  // Known to KServe, so not "unknown fields": explainerIssues refuses them with a message that says why.
  art: opaque.optional(),
  alibi: opaque.optional(),
});

/** KServe's built-in explainer keys, refused by name. */
const BUILTIN_EXPLAINERS = ['art', 'alibi'] as const;

const metadata = strictObject({
  name: dns1035Label,
  namespace: dns1123Label.default('default'),
  labels: stringMap.default({}),
  annotations: stringMap.default({}),
  // Server-owned fields a client may send back from a GET; accepted and kept.
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().optional(),
});

const rawInferenceService = strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('InferenceService'),
  metadata,
  spec: strictObject({
    predictor: rawPredictor,
    transformer: transformer.optional(),
    explainer: explainer.optional(),
  }),
  // Server-owned; tolerated so a GET result can be re-applied, and dropped.
  status: opaque.optional(),
});

export type ModelFormat = z.output<typeof modelFormat>;
export type ModelSpec = z.output<typeof modelSpec>;
export type LegacyFrameworkSpec = z.output<typeof legacyFrameworkSpec>;
export type ContainerSpec = z.output<typeof container>;
export type EnvVar = ContainerSpec['env'][number];
export type ResourceRequirements = ContainerSpec['resources'];
export type BatcherSpec = z.output<typeof batcher>;
export type LoggerSpec = z.output<typeof logger>;
export type ScaleMetric = (typeof SCALE_METRICS)[number];

type RawPredictor = z.output<typeof rawPredictor>;
type ComponentExtension = Omit<RawPredictor, 'model' | 'containers' | LegacyFramework>;
/** Fields every component has (replicas, scaling, concurrency, timeout, canary, batcher, logger). */
export type ComponentExtensionSpec = ComponentExtension;
/** The predictor after normalisation: exactly one of `model` or `containers`. */
export type PredictorSpec = ComponentExtension & { model?: ModelSpec; containers?: ContainerSpec[] };
export type TransformerSpec = z.output<typeof transformer>;
export type ExplainerSpec = Omit<z.output<typeof explainer>, 'art' | 'alibi'>;
export type ObjectMeta = z.output<typeof metadata>;
export type ComponentName = 'predictor' | 'transformer' | 'explainer';
/** The components beside the predictor, each with revisions, scaling and traffic of its own. */
export const CHAINED_COMPONENTS = ['transformer', 'explainer'] as const;
export type ChainedComponent = (typeof CHAINED_COMPONENTS)[number];

export interface InferenceService {
  apiVersion: typeof API_VERSION;
  kind: 'InferenceService';
  metadata: ObjectMeta;
  spec: { predictor: PredictorSpec; transformer?: TransformerSpec; explainer?: ExplainerSpec };
}

/**
 * Validates and normalises an InferenceService document (already parsed from YAML/JSON).
 * Throws ValidationError listing every problem by path; returns warnings for tolerated oddities (deprecated or
 * unknown annotations, and fields accepted but not active yet).
 */
export function parseInferenceService(doc: unknown): { object: InferenceService; warnings: string[] } {
  const issues: FieldIssue[] = [];
  const warnings: string[] = [];
  const parsed = rawInferenceService.safeParse(doc);
  if (!parsed.success) issues.push(...toFieldIssuesAll(parsed.error.issues, doc));

  issues.push(...implementationIssues(doc));
  issues.push(...explainerIssues(doc));
  issues.push(...trafficIssues(doc));
  for (const [path, annotations] of annotationsOf(doc)) {
    const checked = checkAnnotations(annotations, path);
    issues.push(...checked.issues);
    warnings.push(...checked.warnings);
  }
  if (!parsed.success || issues.length > 0) throw new ValidationError(dedupe(issues), subjectOf(doc));

  // Accepted, but nothing acts on them yet: said out loud (api/inactive-fields.ts).
  warnings.push(...inactiveFields(parsed.data).map(inactiveFieldWarning));
  const { status: _status, ...raw } = parsed.data;
  const predictor: PredictorSpec = rewriteLegacyPredictor(raw.spec.predictor);
  const object: InferenceService = {
    apiVersion: raw.apiVersion,
    kind: raw.kind,
    metadata: raw.metadata,
    spec: {
      predictor,
      ...(raw.spec.transformer ? { transformer: raw.spec.transformer } : {}),
      ...(raw.spec.explainer ? { explainer: raw.spec.explainer } : {}),
    },
  };
  return { object, warnings };
}

/** The component spec of an InferenceService, or undefined when it has none. */
export function componentOf(
  isvc: InferenceService,
  component: ComponentName,
): PredictorSpec | TransformerSpec | ExplainerSpec | undefined {
  return isvc.spec[component];
}

/** KServe's built-in explainers (`art`, `alibi`) name a runtime Sluice does not have: refused by field path. */
function explainerIssues(doc: unknown): FieldIssue[] {
  if (!isRecord(doc) || !isRecord(doc.spec) || !isRecord(doc.spec.explainer)) return [];
  const e = doc.spec.explainer;
  return BUILTIN_EXPLAINERS.filter((k) => e[k] !== undefined).map((k) => ({
    path: `spec.explainer.${k}`,
    message: `KServe's built-in ${k} explainer has no runtime in Sluice; run your explainer as a custom container under spec.explainer.containers`,
  }));
}

/** Exactly one of model, a framework key or containers — checked on the raw document so it is always reported. */
function implementationIssues(doc: unknown): FieldIssue[] {
  if (!isRecord(doc) || !isRecord(doc.spec) || !isRecord(doc.spec.predictor)) return [];
  const predictor = doc.spec.predictor;
  const set = IMPLEMENTATIONS.filter((k) => predictor[k] !== undefined);
  if (set.length === 1) return [];
  const message =
    set.length === 0
      ? `one of ${IMPLEMENTATIONS.join(', ')} is required`
      : `exactly one of model, a framework key (${LEGACY_FRAMEWORKS.join(', ')}) or containers may be set; found ${set.join(', ')}`;
  return [{ path: 'spec.predictor', message }];
}

/**
 * An explicit split and KServe's canary percent (or a rollout policy) cannot both decide a component's traffic
 * (each component's `traffic`, `canaryTrafficPercent` and `rollout` act on that component only).
 */
function trafficIssues(doc: unknown): FieldIssue[] {
  if (!isRecord(doc) || !isRecord(doc.spec)) return [];
  const out: FieldIssue[] = [];
  for (const component of ['predictor', 'transformer', 'explainer'] as const) {
    const p = doc.spec[component];
    if (!isRecord(p) || !Array.isArray(p.traffic)) continue;
    const explicit = p.traffic.some((t) => isRecord(t) && typeof t.percent === 'number' && t.percent > 0);
    if (!explicit) continue;
    const path = `spec.${component}.traffic`;
    if (p.canaryTrafficPercent !== undefined)
      out.push({ path, message: 'an explicit split cannot be combined with canaryTrafficPercent; remove one of them' });
    if (p.rollout !== undefined) out.push({ path, message: 'an explicit split cannot be combined with a rollout policy; remove one of them' });
  }
  return out;
}

/** Annotation maps to check: the object's and each component's (KServe propagates both to the revision). */
function annotationsOf(doc: unknown): [string, Record<string, unknown>][] {
  const out: [string, Record<string, unknown>][] = [];
  if (!isRecord(doc)) return out;
  if (isRecord(doc.metadata) && isRecord(doc.metadata.annotations)) out.push(['metadata.annotations', doc.metadata.annotations]);
  if (isRecord(doc.spec)) {
    for (const component of ['predictor', 'transformer', 'explainer'] as const) {
      const c = doc.spec[component];
      if (isRecord(c) && isRecord(c.annotations)) out.push([`spec.${component}.annotations`, c.annotations]);
    }
  }
  return out;
}

function subjectOf(doc: unknown): string {
  if (isRecord(doc) && isRecord(doc.metadata) && typeof doc.metadata.name === 'string') {
    return `invalid InferenceService ${JSON.stringify(doc.metadata.name)}`;
  }
  return 'invalid InferenceService';
}

function dedupe(issues: FieldIssue[]): FieldIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\u0000${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
