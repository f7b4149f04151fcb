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
}

/** The data plane's view of a revision. */
export function revisionView(rev: Revision): RevisionView {
  return {
    key: revisionKey(rev),
    namespace: rev.namespace,
    service: rev.service,
    name: rev.name,
    timeoutMs: rev.timeoutSeconds * 1000,
    modelName: rev.modelName,
    runtimeModelName: rev.runtimeModelName,
  };
}

/** An immutable view of routes and revisions, swapped whole on every change. */
export interface DataPlaneSnapshot {
  readonly routes: RouteTable;
  readonly revisions: ReadonlyMap<string, RevisionView>;
}

/** Holds the current snapshot; readers take `current` once per request, so no request sees half an update. */
export class SnapshotHolder {
  private snap: DataPlaneSnapshot;

  constructor(initial: DataPlaneSnapshot) {
    this.snap = initial;
  }

  get current(): DataPlaneSnapshot {
    return this.snap;
  }

  publish(next: DataPlaneSnapshot): void {
    this.snap = next;
  }
}
