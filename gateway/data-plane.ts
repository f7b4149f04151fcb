import { revisionKey, type Revision } from '../api/revision.js';
import type { RouteTable } from '../api/route.js';

/** What the data plane needs to know about a revision; built by the controller, read per request. */
export interface RevisionView {
  key: string;
  namespace: string;
  service: string;
  name: string;
  /** Request deadline, counted from arrival at the gateway. */
  timeoutMs: number;
  /** Name clients use in `/v1|v2/models/<name>` paths. */
  modelName: string;
  /** Name the runtime serves; paths are rewritten when it differs. */
  runtimeModelName: string;
  /** Set when the revision could not become ready: requests for it are answered 503 with this message at once. */
  failed: string | null;
  /**
   * A replica of it has been ready at least once, so it can start again on demand: the gateway answers model
   * readiness probes for it at zero without waking it (model-probes.ts).
   */
  proven: boolean;
  /** When the revision was made: one deleted and made again under the same name is another. */
  createdAt: string;
}

/**
 * The data plane's view of a revision (`failed`: why it could not become ready, if it could not; `proven`: it
 * has been ready once).
 */
export function revisionView(rev: Revision, failed: string | null = null, proven = false): RevisionView {
  return {
    key: revisionKey(rev),
    namespace: rev.namespace,
    service: rev.service,
    name: rev.name,
    timeoutMs: rev.timeoutSeconds * 1000,
    modelName: rev.modelName,
    runtimeModelName: rev.runtimeModelName,
    failed,
    proven,
    createdAt: rev.createdAt,
  };
}

/** An immutable view of routes and revisions, swapped whole on every change. */
export interface DataPlaneSnapshot {
  readonly routes: RouteTable;
  readonly revisions: ReadonlyMap<string, RevisionView>;
}

/**
 * Holds the current snapshot; readers take `current` once per request, so no request sees half an update.
 * A writer can publish a finished snapshot, or mark it stale with a builder: the next read builds it once, so a
 * burst of changes (10,000 services loaded at start) costs one rebuild instead of one per change.
 */
export class SnapshotHolder {
  private snap: DataPlaneSnapshot;
  private rebuild: (() => DataPlaneSnapshot) | null = null;

  constructor(initial: DataPlaneSnapshot) {
    this.snap = initial;
  }

  get current(): DataPlaneSnapshot {
    if (this.rebuild) {
      const build = this.rebuild;
      this.rebuild = null;
      this.snap = build();
    }
    return this.snap;
  }

  publish(next: DataPlaneSnapshot): void {
    this.rebuild = null;
    this.snap = next;
  }

  /** The snapshot is out of date; `build` makes the new one when it is next read. */
  invalidate(build: () => DataPlaneSnapshot): void {
    this.rebuild = build;
  }
}
