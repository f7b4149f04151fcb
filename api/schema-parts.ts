/**
 * Building blocks shared by the InferenceService and ServingRuntime schemas: strict objects that report unknown
 * fields with the allowed ones, Kubernetes names, quantities, env vars and resources.
 */
import { z } from 'zod';
import { describeValue } from './issues.js';

/** A strict object: unknown fields are reported (with the allowed list), never dropped. */
export function strictObject<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape).strict({ message: `allowed: ${Object.keys(shape).join(', ')}` });
}

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** An InferenceService name: a DNS-1035 label, as KServe requires. */
export const dns1035Label = z.string().superRefine((v, ctx) => {
  if (v.length > 63 || !DNS1035.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message:
        `${describeValue(v)} is not a valid DNS-1035 label (lower-case letters, digits and '-', ` +
        `starting with a letter, ending with a letter or digit, at most 63 characters)`,
    });
  }
});

/** A namespace or runtime name: a DNS-1123 label. */
export const dns1123Label = z.string().superRefine((v, ctx) => {
  if (v.length > 63 || !DNS1123.test(v)) {
    ctx.addIssue({
      code: 'custom',
      message:
        `${describeValue(v)} is not a valid DNS-1123 label (lower-case letters, digits and '-', ` +
        `starting and ending with a letter or digit, at most 63 characters)`,
    });
  }
});

/** A Kubernetes quantity (`"1"`, `2Gi`, `500m`, or a bare YAML number), kept as a string. */
export const quantity = z.unknown().transform((v, ctx): string => {
  if (typeof v === 'string' && v.trim() !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  ctx.addIssue({ code: 'custom', message: `expected a quantity like "1", "500m" or "2Gi", got ${describeValue(v)}` });
  return z.NEVER;
});

/** Kubernetes labels/annotations: string values only (a bare YAML number must be quoted). */
export const stringMap = z.record(
  z.unknown().transform((v, ctx): string => {
    if (typeof v === 'string') return v;
    const hint = typeof v === 'number' || typeof v === 'boolean' ? ` (quote it: "${String(v)}")` : '';
    ctx.addIssue({ code: 'custom', message: `expected a string, got ${describeValue(v)}${hint}` });
    return z.NEVER;
  }),
);

export const resources = strictObject({
  requests: z.record(quantity).default({}),
  limits: z.record(quantity).default({}),
}).default({});

export const envVar = strictObject({
  name: z.string().min(1),
  value: z.string().default(''),
});

export const protocolVersion = z.enum(['v1', 'v2', 'grpc-v1', 'grpc-v2']);
export type ProtocolVersion = z.output<typeof protocolVersion>;

/** Pod-level and container-level fields Sluice tolerates (they matter on Kubernetes) but does not interpret. */
export const opaque = z.unknown();

export const containerPort = strictObject({
  containerPort: z.number().int().min(1).max(65535),
  name: z.string().optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});

/** The container fields of a Kubernetes container that KServe specs commonly carry. */
export const containerFields = {
  name: z.string().optional(),
  image: z.string().min(1).optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).default([]),
  env: z.array(envVar).default([]),
  resources,
  ports: z.array(containerPort).optional(),
  workingDir: z.string().optional(),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  readinessProbe: opaque.optional(),
  livenessProbe: opaque.optional(),
  startupProbe: opaque.optional(),
  securityContext: opaque.optional(),
  volumeMounts: opaque.optional(),
};
