/** The `sluice revisions NAME` table: revision, traffic, tags, replicas, rollout role, age (newest first). */
import { age, table } from './output.js';

type Obj = Record<string, unknown>;

const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const list = (v: unknown): Obj[] => (Array.isArray(v) ? (v as Obj[]) : []);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/**
 * A revision's role in the rollout. After a rollback KServe's status names the same revision as both the latest
 * and the previous rolled-out one; it is the rolled-out one then, and nothing is "previous".
 */
export function rolloutRole(revision: string, predictor: Obj): string {
  if (revision === predictor.latestRolledoutRevision) return 'rolled-out';
  if (revision === predictor.previousRolledoutRevision) return 'previous';
  return '-';
}

export interface RevisionsTableOptions {
  /**
   * `-o wide`: the revisions with their spec (`GET …/revisions`), for the runtime and model columns, plus the
   * starting replicas and the URLs of the revision's tags.
   */
  wide?: { revisions: readonly Obj[] };
  now?: number;
}

export function revisionsTable(isvc: Obj, o: RevisionsTableOptions = {}): string {
  const now = o.now ?? Date.now();
  const status = obj(isvc.status);
  const predictor = obj(obj(status.components).predictor);
  const traffic = list(predictor.traffic);
  const specs = new Map((o.wide?.revisions ?? []).map((r) => [r.name, r]));
  const rows = list(status.revisions)
    .slice()
    .reverse()
    .map((r) => {
      const row = [
        String(r.name),
        `${num(r.trafficPercent)}%`,
        ((r.tags as string[] | undefined) ?? []).join(',') || '-',
        `${num(r.readyReplicas)}/${num(r.desiredReplicas)}`,
        rolloutRole(String(r.name), predictor),
        age(r.createdAt, now),
      ];
      if (o.wide) {
        const spec = specs.get(r.name);
        const urls = traffic.filter((t) => t.revisionName === r.name && typeof t.url === 'string').map((t) => String(t.url));
        row.push(
          String(num(r.startingReplicas)),
          String(obj(spec?.runtime).name ?? '-'),
          String(spec?.storageUri ?? '-'),
          urls.join(',') || '-',
        );
      }
      return row;
    });
  const headers = ['REVISION', 'TRAFFIC', 'TAGS', 'READY', 'ROLLOUT', 'CREATED'];
  if (o.wide) headers.push('STARTING', 'RUNTIME', 'STORAGEURI', 'URL');
  return table(headers, rows);
}
