/** `sluice traffic`, `sluice promote`, `sluice rollback`, `sluice revisions`: traffic management from the shell. */
import type { TrafficCommand } from '../deploy/traffic-commands.js';
import { adminClientFor, type AdminTarget } from './admin-credentials.js';
import type { Io } from './commands.js';
import { checkFormat, printObjects } from './output.js';
import { revisionsTable } from './revisions-table.js';

export interface TrafficFlags {
  toRevisions?: string;
  toLatest?: boolean;
  canary?: number;
  tag?: string;
  removeTag?: string;
}

interface Target extends AdminTarget {
  namespace?: string;
  /** `--component`: predictor (default), transformer or explainer. */
  component?: string;
}

const COMPONENTS = ['predictor', 'transformer', 'explainer'];

/** `--component`, checked before anything is sent. */
export function componentFromFlag(value: string | undefined): string {
  const c = value ?? 'predictor';
  if (!COMPONENTS.includes(c)) throw new Error(`--component: "${c}" is not one of ${COMPONENTS.join(', ')}`);
  return c;
}

/** Reads exactly one traffic operation from the flags. */
export function commandFromFlags(f: TrafficFlags): TrafficCommand {
  const given = [f.toRevisions !== undefined, f.toLatest === true, f.canary !== undefined, f.tag !== undefined, f.removeTag !== undefined].filter(Boolean).length;
  if (given !== 1) throw new Error('give exactly one of --to-revisions REV=P,…, --to-latest, --canary P, --tag TAG=REV, --remove-tag TAG');
  if (f.toRevisions !== undefined) {
    const split: Record<string, number> = {};
    for (const part of f.toRevisions.split(',').map((x) => x.trim()).filter(Boolean)) {
      const m = /^([^=]+)=(\d+)$/.exec(part);
      if (!m) throw new Error(`--to-revisions: "${part}" is not REVISION=PERCENT (e.g. iris-predictor-00002=10)`);
      if (split[m[1]!] !== undefined) throw new Error(`--to-revisions: ${m[1]} is given twice`);
      split[m[1]!] = Number(m[2]);
    }
    return { op: 'to-revisions', split };
  }
  if (f.toLatest) return { op: 'to-latest' };
  if (f.canary !== undefined) return { op: 'canary', percent: f.canary };
  if (f.tag !== undefined) {
    const m = /^([^=]+)=(.+)$/.exec(f.tag);
    if (!m) throw new Error(`--tag: "${f.tag}" is not TAG=REVISION (REVISION may be LATEST)`);
    return { op: 'tag', tag: m[1]!, revision: m[2]! };
  }
  return { op: 'remove-tag', tag: f.removeTag! };
}

type Obj = Record<string, unknown>;

function summary(obj: Obj, component: string): string {
  const status = obj.status as { components?: Record<string, { traffic?: Obj[] } | undefined> } | undefined;
  const t = status?.components?.[component]?.traffic ?? [];
  return t.map((x) => `${String(x.revisionName)}=${String(x.percent)}%${x.tag ? ` (tag ${String(x.tag)})` : ''}`).join(', ') || 'no ready revision yet';
}

export async function sendTrafficCommand(io: Io, name: string, cmd: TrafficCommand, o: Target): Promise<void> {
  const component = componentFromFlag(o.component);
  const client = adminClientFor(o);
  // The predictor's body stays as it always was (no `component`), so an older server still understands it.
  const obj = await client.traffic(o.namespace ?? 'default', name, cmd, component === 'predictor' ? undefined : component);
  io.out(`inferenceservice.serving.kserve.io/${name}${component === 'predictor' ? '' : ` ${component}`} traffic: ${summary(obj, component)}\n`);
}

/** `sluice revisions NAME`: revision, traffic %, tags, ready/desired replicas, created. */
export async function revisionsCommand(io: Io, name: string, o: Target & { output?: string }): Promise<void> {
  const format = checkFormat(o.output, true);
  const client = adminClientFor(o);
  const ns = o.namespace ?? 'default';
  if (format === 'json' || format === 'yaml') {
    io.out(printObjects(await client.revisions(ns, name), format, true));
    return;
  }
  const obj = await client.get(ns, name);
  io.out(revisionsTable(obj, format === 'wide' ? { wide: { revisions: await client.revisions(ns, name) } } : {}));
}
