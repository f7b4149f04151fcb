/**
 * KServe `serving.kserve.io/v1alpha1` ServingRuntime and ClusterServingRuntime (the runtime catalogue), and
 * Sluice's `sluice.dev/v1alpha1` LocalLaunchRecipe (how the local backend starts a runtime).
 */
import { z } from 'zod';
import { ValidationError } from '../core/errors.js';
import { toFieldIssuesAll } from './issues.js';
import type { LocalLaunchRecipe } from './revision.js';
import { containerFields, dns1123Label, opaque, protocolVersion, stringMap, strictObject } from './schema-parts.js';

export const RUNTIME_API_VERSION = 'serving.kserve.io/v1alpha1';
export const SLUICE_API_VERSION = 'sluice.dev/v1alpha1';

const supportedModelFormat = strictObject({
  name: z.string().min(1),
  version: z.string().optional(),
  autoSelect: z.boolean().default(false),
  priority: z.number().int().min(1).optional(),
});

const runtimeContainer = strictObject({
  ...containerFields,
  name: z.string().min(1),
  image: z.string().min(1),
});

const runtimeSpec = strictObject({
  supportedModelFormats: z.array(supportedModelFormat).default([]),
  /** Empty means "any protocol" (KServe treats a runtime without protocolVersions as supporting all). */
  protocolVersions: z.array(protocolVersion).default([]),
  containers: z.array(runtimeContainer).min(1),
  multiModel: z.boolean().default(false),
  disabled: z.boolean().default(false),
  annotations: stringMap.default({}),
  labels: stringMap.default({}),
  // Tolerated, not interpreted by Sluice.
  builtInAdapter: opaque.optional(),
  grpcEndpoint: z.string().optional(),
  grpcDataEndpoint: z.string().optional(),
  httpDataEndpoint: z.string().optional(),
  replicas: z.number().int().min(0).optional(),
  storageHelper: opaque.optional(),
  volumes: opaque.optional(),
  nodeSelector: stringMap.optional(),
  tolerations: opaque.optional(),
  affinity: opaque.optional(),
  imagePullSecrets: opaque.optional(),
}).superRefine((spec, ctx) => {
  spec.supportedModelFormats.forEach((f, i) => {
    if (f.priority !== undefined && !f.autoSelect) {
      ctx.addIssue({
        code: 'custom',
        path: ['supportedModelFormats', i, 'priority'],
        message: 'priority is only allowed together with autoSelect: true (as in KServe)',
      });
    }
  });
});

const runtimeDoc = strictObject({
  apiVersion: z.literal(RUNTIME_API_VERSION),
  kind: z.enum(['ServingRuntime', 'ClusterServingRuntime']),
  metadata: strictObject({
    name: dns1123Label,
    namespace: dns1123Label.optional(),
    labels: stringMap.default({}),
    annotations: stringMap.default({}),
  }),
  spec: runtimeSpec,
});

export type SupportedModelFormat = z.output<typeof supportedModelFormat>;
export type RuntimeContainer = z.output<typeof runtimeContainer>;
export type ServingRuntimeSpec = z.output<typeof runtimeSpec>;
/** A ServingRuntime (namespaced; metadata.namespace defaults to `default`) or a ClusterServingRuntime. */
export type ServingRuntime = z.output<typeof runtimeDoc>;
export type RuntimeKind = ServingRuntime['kind'];

/** Parses a ServingRuntime or ClusterServingRuntime (`kind` tells which). Throws ValidationError. */
export function parseServingRuntime(doc: unknown): ServingRuntime {
  const parsed = runtimeDoc.safeParse(doc);
  if (!parsed.success) {
    throw new ValidationError(toFieldIssuesAll(parsed.error.issues, doc), `invalid ${kindOf(doc) ?? 'ServingRuntime'}`);
  }
  const rt = parsed.data;
  if (rt.kind === 'ServingRuntime') return { ...rt, metadata: { ...rt.metadata, namespace: rt.metadata.namespace ?? 'default' } };
  if (rt.metadata.namespace !== undefined) {
    throw new ValidationError(
      [{ path: 'metadata.namespace', message: 'a ClusterServingRuntime is cluster-scoped and has no namespace' }],
      'invalid ClusterServingRuntime',
    );
  }
  return rt;
}

const recipeDoc = strictObject({
  apiVersion: z.literal(SLUICE_API_VERSION),
  kind: z.literal('LocalLaunchRecipe'),
  metadata: strictObject({
    name: dns1123Label,
    labels: stringMap.default({}),
    annotations: stringMap.default({}),
  }),
  spec: strictObject({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    env: stringMap.default({}),
    readinessPath: z.string().startsWith('/'),
    startupTimeoutSeconds: z.number().positive().default(120),
    stdin: z.enum(['pipe', 'null']).default('pipe'),
  }),
});

/** Parses a LocalLaunchRecipe; `runtime` is the name of the runtime it launches (its metadata.name). */
export function parseLocalLaunchRecipe(doc: unknown): { runtime: string; recipe: LocalLaunchRecipe } {
  const parsed = recipeDoc.safeParse(doc);
  if (!parsed.success) throw new ValidationError(toFieldIssuesAll(parsed.error.issues, doc), 'invalid LocalLaunchRecipe');
  const { spec } = parsed.data;
  return {
    runtime: parsed.data.metadata.name,
    recipe: {
      command: spec.command,
      args: spec.args,
      env: spec.env,
      readinessPath: spec.readinessPath,
      startupTimeoutSeconds: spec.startupTimeoutSeconds,
      stdin: spec.stdin,
    },
  };
}

function kindOf(doc: unknown): string | undefined {
  if (typeof doc === 'object' && doc !== null && 'kind' in doc && typeof doc.kind === 'string') return doc.kind;
  return undefined;
}
