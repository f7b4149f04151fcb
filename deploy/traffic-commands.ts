/**
 * The traffic commands of the CLI and admin API (`sluice traffic|promote|rollback`), as pure edits of one
 * component's traffic fields (the predictor's, the transformer's or the explainer's). The result is checked by
 * the same schema as any spec, so a bad split is refused with the same errors and nothing changes.
 */
import type { ComponentName } from '../api/inferenceservice.js';
import type { TrafficTargetSpec } from '../api/traffic-spec.js';
import { HttpError } from '../core/errors.js';

/** `LATEST` in a split or tag names the latest ready revision (a `latestRevision: true` target). */
export const LATEST = 'LATEST';

export type TrafficCommand =
  | { op: 'to-revisions'; split: Record<string, number> }
  | { op: 'to-latest' }
  | { op: 'canary'; percent: number }
  | { op: 'tag'; tag: string; revision: string }
  | { op: 'remove-tag'; tag: string }
  | { op: 'promote' }
  | { op: 'rollback' };

export interface TrafficFields {
  canaryTrafficPercent?: number;
  traffic?: TrafficTargetSpec[];
}

/** Components a traffic command can act on (each has its own revisions and split). */
export const TRAFFIC_COMPONENTS: readonly ComponentName[] = ['predictor', 'transformer', 'explainer'];

/**
 * The component an admin API body names in its `component` field (KServe's component names), the predictor when
 * it names none.
 */
export function parseTrafficComponent(body: unknown): ComponentName {
  const c = body && typeof body === 'object' ? (body as Record<string, unknown>).component : undefined;
  if (c === undefined) return 'predictor';
  if (typeof c === 'string' && (TRAFFIC_COMPONENTS as readonly string[]).includes(c)) return c as ComponentName;
  throw new HttpError(400, `component must be one of ${TRAFFIC_COMPONENTS.join(', ')}, got ${JSON.stringify(c)}`);
}

/** Reads a command from an admin API body, with errors that say what is expected. */
export function parseTrafficCommand(body: unknown): TrafficCommand {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const bad = (m: string): never => {
    throw new HttpError(400, m);
  };
  switch (b.op) {
    case 'to-revisions': {
      const split = b.split;
      if (!split || typeof split !== 'object' || Array.isArray(split)) bad('to-revisions needs "split": {"<revision>": <percent>, …}');
      const out: Record<string, number> = {};
      for (const [k, v] of Object.entries(split as Record<string, unknown>)) {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100) bad(`split: ${k} must be an integer percent 0..100, got ${JSON.stringify(v)}`);
        out[k] = v as number;
      }
      return { op: 'to-revisions', split: out };
    }
    case 'canary':
      if (typeof b.percent !== 'number' || !Number.isInteger(b.percent) || b.percent < 0 || b.percent > 100)
        bad(`canary needs "percent": an integer 0..100, got ${JSON.stringify(b.percent)}`);
      return { op: 'canary', percent: b.percent as number };
    case 'tag':
      if (typeof b.tag !== 'string' || typeof b.revision !== 'string') bad('tag needs "tag" and "revision" strings');
      return { op: 'tag', tag: b.tag as string, revision: b.revision as string };
    case 'remove-tag':
      if (typeof b.tag !== 'string') bad('remove-tag needs a "tag" string');
      return { op: 'remove-tag', tag: b.tag as string };
    case 'to-latest':
    case 'promote':
    case 'rollback':
      return { op: b.op };
    default:
      return bad(`unknown traffic op ${JSON.stringify(b.op)}; one of to-revisions, to-latest, canary, tag, remove-tag, promote, rollback`);
  }
}

/**
 * Applies a command to a component's current traffic fields. `revisions` are that component's revision names (a
 * split or tag can only name those).
 */
export function applyTrafficCommand(current: TrafficFields, cmd: TrafficCommand, revisions: readonly string[], component: ComponentName = 'predictor'): TrafficFields {
  const target = (rev: string): Pick<TrafficTargetSpec, 'revisionName' | 'latestRevision'> => {
    if (rev === LATEST) return { latestRevision: true };
    if (!revisions.includes(rev))
      throw new HttpError(
        422,
        `${component === 'predictor' ? 'revision' : `${component} revision`} "${rev}" does not exist; ${component === 'predictor' ? 'revisions' : `the ${component}'s revisions`}: ${revisions.join(', ') || 'none'} (or ${LATEST})`,
      );
    return { revisionName: rev };
  };
  // Tags survive every split change: explicit entries keep theirs as tag-only (0 %) entries.
  const tagsOnly = (list: readonly TrafficTargetSpec[]): TrafficTargetSpec[] =>
    list.filter((t) => t.tag !== undefined).map((t) => ({ ...pick(t), percent: 0, tag: t.tag }));
  const tags = tagsOnly(current.traffic ?? []);
  const withTags = (fields: TrafficFields, extra: TrafficTargetSpec[]): TrafficFields => {
    const out: TrafficFields = {};
    if (fields.canaryTrafficPercent !== undefined) out.canaryTrafficPercent = fields.canaryTrafficPercent;
    const list = [...(fields.traffic ?? []), ...extra];
    if (list.length > 0) out.traffic = list;
    return out;
  };
  switch (cmd.op) {
    case 'to-revisions': {
      const entries = Object.entries(cmd.split).filter(([, p]) => p > 0);
      if (entries.length === 0) throw new HttpError(422, 'the split sends no traffic anywhere; give percents summing to 100');
      const sum = entries.reduce((s, [, p]) => s + p, 0);
      if (sum !== 100) throw new HttpError(422, `percents must sum to 100, got ${sum} (${entries.map(([r, p]) => `${r}=${p}`).join(',')})`);
      return withTags({ traffic: entries.map(([rev, percent]) => ({ ...target(rev), percent })) }, tags);
    }
    case 'to-latest':
    case 'promote':
      return withTags({}, tags);
    case 'canary':
      // With one revision the "canary" and the rolled-out revision are the same one: refuse (as Cloud Run refuses a
      // split that names one revision twice) rather than report a split that sends everything to one place.
      if (revisions.length < 2)
        throw new HttpError(
          409,
          `a canary needs a second revision to split with, and there is only ${revisions[0] ?? 'no revision'}; ` +
            `change the ${component} (${component === 'predictor' ? 'its model, image' : 'its image, command, args, env'} or any serving field) to make a new revision, then set the canary percent`,
        );
      return withTags({ canaryTrafficPercent: cmd.percent }, tags);
    case 'rollback':
      return withTags({ canaryTrafficPercent: 0 }, tags);
    case 'tag': {
      const t = target(cmd.revision);
      const rest = removeTag(current.traffic ?? [], cmd.tag);
      return withTags({ ...(current.canaryTrafficPercent !== undefined ? { canaryTrafficPercent: current.canaryTrafficPercent } : {}), traffic: rest }, [{ ...t, percent: 0, tag: cmd.tag }]);
    }
    case 'remove-tag': {
      const list = current.traffic ?? [];
      if (!list.some((t) => t.tag === cmd.tag))
        throw new HttpError(422, `no tag "${cmd.tag}" to remove; tags: ${list.flatMap((t) => (t.tag ? [t.tag] : [])).join(', ') || 'none'}`);
      return withTags({ ...(current.canaryTrafficPercent !== undefined ? { canaryTrafficPercent: current.canaryTrafficPercent } : {}), traffic: removeTag(list, cmd.tag) }, []);
    }
  }
}

function removeTag(list: readonly TrafficTargetSpec[], tag: string): TrafficTargetSpec[] {
  const out: TrafficTargetSpec[] = [];
  for (const t of list) {
    if (t.tag !== tag) out.push({ ...t });
    else if (t.percent > 0) out.push({ ...pick(t), percent: t.percent });
  }
  return out;
}

function pick(t: TrafficTargetSpec): Pick<TrafficTargetSpec, 'revisionName' | 'latestRevision'> {
  return t.latestRevision ? { latestRevision: true } : { revisionName: t.revisionName! };
}
