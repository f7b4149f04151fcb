/** The `sluice get isvc` table, from InferenceServices as the admin API returns them (with status). */
import { age, table } from './output.js';

type Obj = Record<string, unknown>;

const field = (o: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Obj)[k] : undefined), o);

const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

export interface IsvcTableOptions {
  /** Lead every row with its namespace (`-A`). */
  allNamespaces?: boolean;
  /** `-o wide`: also the split per revision, the replicas of each revision, and the tags. */
  wide?: boolean;
  now?: number;
}

/**
 * REPLICAS counts the revisions that take traffic (ready/desired, summed), so a service whose traffic stays on
 * an older revision shows that revision's replicas, not the latest's. Before any revision takes traffic it shows
 * the latest created revision's.
 */
export function replicasColumn(revisions: readonly Obj[], latestCreated: string): string {
  const serving = revisions.filter((r) => num(r.trafficPercent) > 0);
  const counted = serving.length > 0 ? serving : revisions.filter((r) => r.name === latestCreated);
  if (counted.length === 0) return '';
  const ready = counted.reduce((s, r) => s + num(r.readyReplicas), 0);
  const desired = counted.reduce((s, r) => s + num(r.desiredReplicas), 0);
  return `${ready}/${desired}`;
}

export function isvcTable(items: readonly unknown[], o: IsvcTableOptions = {}): string {
  const now = o.now ?? Date.now();
  const rows = items.map((it) => {
    const predictor = field(it, 'status', 'components', 'predictor');
    const traffic = list(field(predictor, 'traffic'));
    const latest = traffic.find((t) => t.latestRevision === true);
    const prev = traffic.find((t) => t.latestRevision !== true && num(t.percent) > 0);
    const ready = list(field(it, 'status', 'conditions')).find((c) => c.type === 'Ready');
    const revisions = list(field(it, 'status', 'revisions'));
    const latestName = String(field(predictor, 'latestCreatedRevision') ?? '');
    const row = [
      String(field(it, 'metadata', 'name')),
      String(field(it, 'status', 'url') ?? ''),
      String(ready?.status ?? 'Unknown'),
      prev ? String(prev.percent) : '',
      latest ? String(latest.percent) : '',
      latestName,
      replicasColumn(revisions, latestName),
      age(field(it, 'metadata', 'creationTimestamp'), now),
    ];
    if (o.wide) {
      const routed = revisions.filter((r) => num(r.trafficPercent) > 0);
      const shown = revisions.filter((r) => num(r.trafficPercent) > 0 || num(r.desiredReplicas) > 0 || num(r.readyReplicas) > 0);
      const tags = traffic.filter((t) => typeof t.tag === 'string');
      row.push(
        routed.map((r) => `${String(r.name)}=${num(r.trafficPercent)}%`).join(',') || '-',
        shown.map((r) => `${String(r.name)}=${num(r.readyReplicas)}/${num(r.desiredReplicas)}`).join(',') || '-',
        tags.map((t) => `${String(t.tag)}=${String(t.revisionName)}`).join(',') || '-',
      );
    }
    return o.allNamespaces ? [String(field(it, 'metadata', 'namespace')), ...row] : row;
  });
  const headers = ['NAME', 'URL', 'READY', 'PREV', 'LATEST', 'LATESTREVISION', 'REPLICAS', 'AGE'];
  if (o.wide) headers.push('TRAFFIC', 'REVISIONREPLICAS', 'TAGS');
  return table(o.allNamespaces ? ['NAMESPACE', ...headers] : headers, rows);
}
