/**
 * What embedded mode keeps of one InferenceService across restarts, the seam the controller saves it through,
 * and the check of a state file read back (it was written by us, but a file on disk is still a boundary).
 */
import { z } from 'zod';
import { parseInferenceService, type InferenceService } from '../../api/inferenceservice.js';
import type { Revision } from '../../api/revision.js';
import { ValidationError } from '../../core/errors.js';
import type { RolloutState } from '../rollout-state.js';

/** One service as the controller holds it, minus what is rebuilt at start (conditions, events, replicas). */
export interface StoredService {
  namespace: string;
  name: string;
  /** The InferenceService as last applied (defaulted), traffic fields included. */
  object: InferenceService;
  /** Where the spec came from: `file:<path>` or `api`. */
  source: string;
  uid: string;
  createdAt: string;
  generation: number;
  /** Every revision kept, oldest first, with its full content (revisions are immutable). */
  revisions: Revision[];
  /** Names of the revisions that have had a ready replica. */
  proven: string[];
  latestRolledout: string | null;
  previousRolledout: string | null;
  rollout: RolloutState | null;
  /** The transformer's and explainer's rolled-out revisions and rollout state (their revisions are in `revisions`). */
  components?: Partial<Record<'transformer' | 'explainer', { latestRolledout: string | null; previousRolledout: string | null; rollout?: RolloutState | null }>>;
}

/** How the controller makes its state durable (embedded mode; cluster mode keeps it in Kubernetes objects). */
export interface ControllerStore {
  /** The least number a new revision of this service may take, so a name is never reused for other content. */
  nextRevisionNumber(namespace: string, name: string): number;
  /** Saves the service as `state()` returns it when the write starts; resolves once that is durable. */
  save(namespace: string, name: string, state: () => StoredService): Promise<void>;
  /** Forgets the service but remembers `nextRevision` (and any higher number seen); resolves once durable. */
  remove(namespace: string, name: string, nextRevision: number): Promise<void>;
}

export const STATE_FORMAT = 'sluice.dev/state/v1';

export type StateFile =
  | { kind: 'service'; nextRevision: number; service: StoredService }
  | { kind: 'deleted'; namespace: string; name: string; nextRevision: number; deletedAt: string };

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label');

const revisionShape = z
  .object({
    name: z.string().min(1),
    namespace: dnsLabel,
    service: dnsLabel,
    component: z.enum(['predictor', 'transformer', 'explainer']),
    generation: z.number().int().positive(),
    hash: z.string().min(1),
    createdAt: z.string(),
    autoscaling: z.object({ minReplicas: z.number(), maxReplicas: z.number() }).passthrough(),
  })
  .passthrough();

const rolloutShape = z
  .object({
    revision: z.string(),
    stable: z.string(),
    step: z.number().int().min(0),
    stepStartedAt: z.number(),
    phase: z.enum(['Progressing', 'Succeeded', 'RolledBack']),
    message: z.string(),
    canaryReady: z.boolean(),
  })
  .strict();

const serviceShape = z
  .object({
    namespace: dnsLabel,
    name: dnsLabel,
    object: z.unknown(),
    source: z.string(),
    uid: z.string().min(1),
    createdAt: z.string(),
    generation: z.number().int().min(0),
    revisions: z.array(revisionShape).min(1),
    proven: z.array(z.string()),
    latestRolledout: z.string().nullable(),
    previousRolledout: z.string().nullable(),
    rollout: rolloutShape.nullable(),
    components: z
      .object({
        transformer: z.object({ latestRolledout: z.string().nullable(), previousRolledout: z.string().nullable(), rollout: rolloutShape.nullable().optional() }).strict().optional(),
        explainer: z.object({ latestRolledout: z.string().nullable(), previousRolledout: z.string().nullable(), rollout: rolloutShape.nullable().optional() }).strict().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const fileShape = z.discriminatedUnion('kind', [
  z.object({ format: z.literal(STATE_FORMAT), kind: z.literal('service'), nextRevision: z.number().int().positive(), service: serviceShape }).strict(),
  z
    .object({
      format: z.literal(STATE_FORMAT),
      kind: z.literal('deleted'),
      namespace: dnsLabel,
      name: dnsLabel,
      nextRevision: z.number().int().positive(),
      deletedAt: z.string(),
    })
    .strict(),
]);

export function encodeStateFile(f: StateFile): string {
  return `${JSON.stringify({ format: STATE_FORMAT, ...f })}\n`;
}

/** Reads a state file's text; throws an Error naming the file and the first bad field. */
export function decodeStateFile(text: string, file: string): StateFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`state file ${file} is not valid JSON (${(err as Error).message})`);
  }
  const r = fileShape.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`state file ${file}: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  if (r.data.kind === 'deleted') {
    const { format: _f, ...rest } = r.data;
    return rest;
  }
  const s = r.data.service;
  let object: InferenceService;
  try {
    object = parseInferenceService(s.object).object;
  } catch (err) {
    const detail = err instanceof ValidationError ? err.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : (err as Error).message;
    throw new Error(`state file ${file}: service.object: ${detail}`);
  }
  // The revisions were built by the controller and checked for shape above; their content is kept as written.
  const revisions = s.revisions as unknown as Revision[];
  return { kind: 'service', nextRevision: r.data.nextRevision, service: { ...s, object, revisions } };
}
