import type { DataPlaneSnapshot, RevisionView } from './data-plane.js';

/**
 * Answers kept per revision and version (the model metadata a revision's replicas gave, over HTTP or gRPC), so
 * a probe of a revision at zero can be answered without waking it. Bounded: `maxVersions` per revision and
 * `maxRevisions` revisions (the oldest entry goes first). A revision's entry goes when it leaves the snapshot,
 * and a revision deleted and created again under the same name (another `createdAt`) starts empty.
 */
export class RevisionAnswers<T> {
  private readonly byRevision = new Map<string, { createdAt: string; versions: Map<string, T> }>();
  /** The snapshot the entries were last checked against. */
  private seen: DataPlaneSnapshot | null = null;

  constructor(
    private readonly maxVersions: number,
    private readonly maxRevisions: number,
  ) {}

  /** Revisions with kept answers. */
  get size(): number {
    return this.byRevision.size;
  }

  /** Drops the entries of revisions `snap` no longer has (once per snapshot). */
  sync(snap: DataPlaneSnapshot): void {
    if (snap === this.seen) return;
    this.seen = snap;
    for (const key of this.byRevision.keys()) if (!snap.revisions.has(key)) this.byRevision.delete(key);
  }

  get(rev: RevisionView, version: string): T | undefined {
    const entry = this.byRevision.get(rev.key);
    if (entry === undefined) return undefined;
    if (entry.createdAt !== rev.createdAt) {
      this.byRevision.delete(rev.key);
      return undefined;
    }
    return entry.versions.get(version);
  }

  /** Keeps `value` for `rev` and `version`; a new version past `maxVersions` is not kept. */
  set(rev: RevisionView, version: string, value: T): void {
    let entry = this.byRevision.get(rev.key);
    if (entry === undefined || entry.createdAt !== rev.createdAt) {
      if (entry !== undefined) this.byRevision.delete(rev.key);
      while (this.byRevision.size >= this.maxRevisions) {
        const oldest = this.byRevision.keys().next().value;
        if (oldest === undefined) break;
        this.byRevision.delete(oldest);
      }
      entry = { createdAt: rev.createdAt, versions: new Map() };
      this.byRevision.set(rev.key, entry);
    }
    if (!entry.versions.has(version) && entry.versions.size >= this.maxVersions) return;
    entry.versions.set(version, value);
  }

  delete(revisionKey: string): void {
    this.byRevision.delete(revisionKey);
  }
}
