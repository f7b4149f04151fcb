/**
 * Revisions from an InferenceService: the serving hash that decides whether a change makes a new revision, and
 * the resolved revision itself (runtime, container, autoscaling, GPUs, local recipe).
 */
import { EGRESS_ANNOTATION } from '../api/ingress-policy.js';
import { createHash } from 'node:crypto';
import { autoscalingAnnotations } from '../api/annotations.js';
import { autoscalingFor } from '../api/autoscaling.js';
import { batcherSettings } from '../api/batcher.js';
import {
  componentOf,
  type ComponentName,
  type EnvVar,
  type InferenceService,
  type ModelSpec,
  type ProtocolVersion,
  type ResourceRequirements,
} from '../api/inferenceservice.js';
import { revisionName, type LocalLaunchRecipe, type ResolvedContainer, type Revision } from '../api/revision.js';
import type { RuntimeContainer } from '../api/servingruntime.js';
import { ValidationError } from '../core/errors.js';
import type { RuntimeCatalogue } from './runtime-catalogue.js';
import { resolveRuntime } from './runtime-selection.js';

export const DEFAULT_TIMEOUT_SECONDS = 300;
export const HASH_LENGTH = 16;
/** Env var KServe reads a custom container's protocol from. */
export const PROTOCOL_ENV = 'PROTOCOL';
/** Annotation Sluice reads a custom container's protocol from when the env var is absent. */
export const PROTOCOL_ANNOTATION = 'sluice.dev/protocol-version';

/**
 * Short sha256 of what the component serves: its spec without the traffic fields (canaryTrafficPercent and
 * Sluice's traffic and rollout), plus the
 * autoscaling.knative.dev annotations. Labels and other annotations do not count.
 */
export function servingHash(isvc: InferenceService, component: ComponentName): string {
  const spec = componentOf(isvc, component);
  if (spec === undefined) throw new Error(`InferenceService ${isvc.metadata.name} has no ${component}`);
  const { canaryTrafficPercent: _canary, ...rest } = spec;
  const { traffic: _traffic, rollout: _rollout, ...serving } = rest as typeof rest & { traffic?: unknown; rollout?: unknown };
  const egress = networkEgressOf(isvc, component);
  // Egress joins the material only when declared, so revisions of services without it keep their hashes.
  const material = canonicalJson({ spec: serving, autoscaling: autoscalingAnnotations(isvc.metadata.annotations), ...(egress ? { egress } : {}) });
  return createHash('sha256').update(material).digest('hex').slice(0, HASH_LENGTH);
}

export interface BuildOptions {
  generation: number;
  createdAt: string;
}

/** Builds the revision of `component` from a defaulted InferenceService. Throws ValidationError. */
export function buildRevision(
  isvc: InferenceService,
  component: ComponentName,
  catalogue: RuntimeCatalogue,
  opts: BuildOptions,
): Revision {
  const spec = componentOf(isvc, component);
  if (spec === undefined) {
    throw new ValidationError([{ path: `spec.${component}`, message: 'required to build this revision' }]);
  }
  const { name, namespace } = isvc.metadata;
  const model = component === 'predictor' ? isvc.spec.predictor.model : undefined;
  const base = {
    name: revisionName(name, component, opts.generation),
    namespace,
    service: name,
    component,
    generation: opts.generation,
    hash: servingHash(isvc, component),
    createdAt: opts.createdAt,
    spec: structuredClone(spec),
    modelName: name,
    runtimeModelName: name,
    containerConcurrency: spec.containerConcurrency ?? 0,
    batcher: batcherSettings(spec.batcher),
    timeoutSeconds: spec.timeout ?? DEFAULT_TIMEOUT_SECONDS,
    autoscaling: autoscalingFor(isvc, component),
    ...networkEgressField(isvc, component),
  };
  if (model !== undefined) {
    const resolved = resolveRuntime(model, namespace, catalogue);
    const runtimeContainer = pickContainer(resolved.runtime.spec.containers);
    const container = mergeModelContainer(runtimeContainer, model, isvc);
    return {
      ...base,
      runtime: { name: resolved.runtime.metadata.name, kind: resolved.kind, protocolVersion: resolved.protocolVersion },
      storageUri: model.storageUri ?? null,
      container,
      gpus: gpusOf(container.resources, 'spec.predictor.model.resources'),
      local: catalogue.localRecipes.get(resolved.runtime.metadata.name) ?? null,
    };
  }
  const containers = 'containers' in spec ? spec.containers : undefined;
  if (containers === undefined || containers.length === 0) {
    throw new ValidationError([{ path: `spec.${component}`, message: 'needs model or containers' }]);
  }
  const custom = pickContainer(containers);
  const env = envRecord(custom.env);
  const chained = component !== 'predictor';
  const protocolVersion = customProtocol(env, isvc, component);
  const container: ResolvedContainer = {
    image: custom.image,
    command: custom.command ?? [],
    // A transformer or explainer gets KServe's arguments (model name, predictor host, HTTP port) unless it sets them.
    args: chained ? withChainArgs(custom.args, { modelName: name, predictorHost: PREDICTOR_HOST_TEMPLATE, httpPort: '8080' }) : custom.args,
    env,
    resources: { requests: { ...custom.resources.requests }, limits: { ...custom.resources.limits } },
    ...(custom.ports && custom.ports.length > 0 ? { ports: custom.ports.map((p) => ({ ...p })) } : {}),
  };
  return {
    ...base,
    runtime: { name: 'custom', kind: 'custom', protocolVersion },
    storageUri: env.STORAGE_URI ?? null,
    container,
    gpus: gpusOf(container.resources, `spec.${component}.containers[0].resources`),
    // A custom predictor has no catalogue entry, so no local recipe. A transformer or explainer runs locally as its
    // container's command (the image is not used locally), on the replica's port.
    local: chained ? chainedLocalRecipe(custom.command ?? [], custom.args, protocolVersion) : null,
    ...(chained ? { predictorPath: `/serving/${namespace}/${name}-predictor` } : {}),
  };
}

/** Filled by the backend: where the transformer or explainer reaches its predictor through Sluice. */
export const PREDICTOR_HOST_TEMPLATE = '{{predictorHost}}';
/** Seconds a local transformer or explainer gets to answer its readiness probe. */
export const CHAINED_STARTUP_TIMEOUT_SECONDS = 120;

/**
 * KServe's contract for a transformer or explainer container: `--model_name <isvc>`, `--predictor_host <host>` and
 * `--http_port <port>` are appended unless the container's args already set them (`--x v` or `--x=v`), as KServe's
 * controller does. The predictor's protocol is not passed (KServe passes none; the container sets `--protocol`).
 */
export function withChainArgs(args: readonly string[], v: { modelName: string; predictorHost: string; httpPort: string }): string[] {
  const has = (flag: string): boolean => args.some((a) => a === flag || a.startsWith(`${flag}=`));
  const out = [...args];
  if (!has('--model_name')) out.push('--model_name', v.modelName);
  if (!has('--predictor_host')) out.push('--predictor_host', v.predictorHost);
  if (!has('--http_port')) out.push('--http_port', v.httpPort);
  return out;
}

/** The local recipe of a transformer or explainer: its command, args with KServe's on the replica's port. */
function chainedLocalRecipe(command: readonly string[], args: readonly string[], protocol: ProtocolVersion): LocalLaunchRecipe | null {
  if (command.length === 0) return null;
  return {
    command: command[0]!,
    args: [...command.slice(1), ...withChainArgs(args, { modelName: '{{modelName}}', predictorHost: PREDICTOR_HOST_TEMPLATE, httpPort: '{{port}}' })],
    env: {},
    readinessPath: protocol === 'v2' ? '/v2/health/ready' : '/v1/models/{{modelName}}',
    startupTimeoutSeconds: CHAINED_STARTUP_TIMEOUT_SECONDS,
  };
}

/** KServe uses the container named kserve-container, else the first. */
function pickContainer<C extends { name?: string | undefined }>(containers: readonly C[]): C {
  const found = containers.find((c) => c.name === 'kserve-container') ?? containers[0];
  if (found === undefined) throw new Error('runtime has no container');
  return found;
}

/**
 * The runtime's container with the model's settings on top, as KServe merges them: image from the model if set,
 * else the runtime's with its tag replaced by runtimeVersion; command from the model if set; args = runtime's then
 * the model's; env by name (model wins); resources key by key (model wins). `{{.Name}}`, `{{.Namespace}}`,
 * `{{.Labels.x}}` and `{{.Annotations.x}}` in args and env are filled from the InferenceService.
 */
function mergeModelContainer(rc: RuntimeContainer, model: ModelSpec, isvc: InferenceService): ResolvedContainer {
  const fill = (s: string): string => fillTemplate(s, isvc);
  const image = model.image ?? (model.runtimeVersion ? replaceImageTag(rc.image, model.runtimeVersion) : rc.image);
  const env = { ...envRecord(rc.env), ...envRecord(model.env) };
  // The model's ports, when it declares any, stand for the runtime container's (it is the same container).
  const ports = model.ports && model.ports.length > 0 ? model.ports : rc.ports;
  return {
    ...(ports && ports.length > 0 ? { ports: ports.map((p) => ({ ...p })) } : {}),
    image,
    command: model.command ?? rc.command ?? [],
    args: [...rc.args, ...model.args].map(fill),
    env: Object.fromEntries(Object.entries(env).map(([k, v]) => [k, fill(v)])),
    resources: {
      requests: { ...rc.resources.requests, ...model.resources.requests },
      limits: { ...rc.resources.limits, ...model.resources.limits },
    },
  };
}

/** `repo/name:tag` or `repo/name@sha256:…` → `repo/name:<tag>` (a registry port is not mistaken for a tag). */
export function replaceImageTag(image: string, tag: string): string {
  const at = image.indexOf('@');
  const withoutDigest = at === -1 ? image : image.slice(0, at);
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  const repo = colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
  return `${repo}:${tag}`;
}

function fillTemplate(s: string, isvc: InferenceService): string {
  return s.replace(/\{\{\s*\.(Name|Namespace|Labels\.([\w./-]+)|Annotations\.([\w./-]+))\s*\}\}/g, (_m, what: string, label?: string, ann?: string) => {
    if (what === 'Name') return isvc.metadata.name;
    if (what === 'Namespace') return isvc.metadata.namespace;
    if (label !== undefined) return isvc.metadata.labels[label] ?? '';
    if (ann !== undefined) return isvc.metadata.annotations[ann] ?? '';
    return '';
  });
}

function envRecord(env: readonly EnvVar[]): Record<string, string> {
  return Object.fromEntries(env.map((e) => [e.name, e.value]));
}

function customProtocol(env: Record<string, string>, isvc: InferenceService, component: ComponentName = 'predictor'): ProtocolVersion {
  // The annotation is the service's (its predictor's); a transformer or explainer says its protocol in its env.
  const v = env[PROTOCOL_ENV] ?? (component === 'predictor' ? isvc.metadata.annotations[PROTOCOL_ANNOTATION] : undefined);
  if (v === undefined) return 'v1';
  if (v === 'v1' || v === 'v2' || v === 'grpc-v1' || v === 'grpc-v2') return v;
  throw new ValidationError([
    { path: `spec.${component}.containers[0].env.${PROTOCOL_ENV}`, message: `${JSON.stringify(v)} is not one of v1, v2, grpc-v1, grpc-v2` },
  ]);
}

/** GPUs per replica: resources whose name ends in `/gpu`; limits win over requests. */
export function gpusOf(resources: ResourceRequirements, path = 'resources'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [field, source] of [['requests', resources.requests], ['limits', resources.limits]] as const) {
    for (const [key, value] of Object.entries(source)) {
      if (!key.endsWith('/gpu')) continue;
      const n = Number(value);
      if (!Number.isInteger(n) || n < 0) {
        throw new ValidationError([{ path: `${path}.${field}[${JSON.stringify(key)}]`, message: `GPU count must be a whole number, got ${JSON.stringify(value)}` }]);
      }
      if (n > 0) out[key] = n;
      else delete out[key];
    }
  }
  return out;
}

/** JSON with object keys sorted, so equal specs hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}


/** `sluice.dev/egress` (component-level over object-level): CIDRs, or undefined for `all` or none. */
function networkEgressOf(isvc: InferenceService, component: ComponentName): string[] | undefined {
  const own = (componentOf(isvc, component) as { annotations?: Record<string, string> } | undefined)?.annotations?.[EGRESS_ANNOTATION];
  const value = own ?? isvc.metadata.annotations?.[EGRESS_ANNOTATION];
  if (value === undefined || value.trim() === 'all') return undefined;
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function networkEgressField(isvc: InferenceService, component: ComponentName): { networkEgress?: string[] } {
  const egress = networkEgressOf(isvc, component);
  return egress ? { networkEgress: egress } : {};
}
