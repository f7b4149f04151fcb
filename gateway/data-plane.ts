import type { BatcherSettings } from '../api/batcher.js';
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
  /** Request batching (gateway/batcher/), null when the revision has none. */
  batcher: BatcherSettings | null;
  /** Requests at once per replica (0 = unbounded): the batcher sends up to this many batches per replica. */
  containerConcurrency: number;
  /** Request/response logging of the revision (its component's `logger`), absent when off. */
  logger?: RevisionLogger;
}

/** Where a revision's request/response events go and which (gateway/stages/logger/). */
export interface RevisionLogger {
  /** `http(s)://…` or `file:///…` (validated by the schema). */
  url: string;
  mode: 'all' | 'request' | 'response';
  /** The component the revision serves (`ce-component`). */
  component: string;
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
    batcher: rev.batcher ?? null,
    containerConcurrency: rev.containerConcurrency,
    ...loggerOf(rev),
  };
}

/** The revision's `logger` from the component spec it was made from (both modes carry that spec). */
function loggerOf(rev: Revision): { logger?: RevisionLogger } {
  const l = (rev.spec as { logger?: { url?: unknown; mode?: unknown } } | null)?.logger;
  if (!l || typeof l.url !== 'string') return {};
  const mode = l.mode === 'request' || l.mode === 'response' ? l.mode : 'all';
  return { logger: { url: l.url, mode, component: rev.component } };
}

/** An immutable view of routes and revisions, swapped whole on every change. */
export interface DataPlaneSnapshot {
  readonly routes: RouteTable;
  readonly revisions: ReadonlyMap<string, RevisionView>;
}

/** A rebuild that took less than this (ms) runs on a microtask after the change; a longer one on a later turn. */
const CHEAP_BUILD_MS = 0.25;
/** Expensive rebuilds are spaced so they take at most 1 / (1 + this) of the time while changes keep coming. */
const SPACING = 4;

/**
 * Holds the current snapshot; readers take `current` once per request, so no request sees half an update.
 * A writer can publish a finished snapshot, or mark it stale with a builder. The new snapshot is built off the
 * request path, right after the change:
 * - while builds are cheap (< 0.25 ms: up to some hundreds of services), on a microtask, so every request (a
 *   later event) already sees it;
 * - once they cost more, on `setImmediate`, and no sooner after the previous build than 4× its duration, so a
 *   burst of changes (10,000 services registered at start, each apply its own turn) spends at most a fifth of
 *   its time rebuilding instead of rebuilding a growing table once per change.
 * A reader that comes before the scheduled build (a synchronous caller in the same turn as the change, or a
 * request inside the spacing of a large table under a burst) builds it then, once, so no reader sees a stale table.
 */
export class SnapshotHolder {
  private snap: DataPlaneSnapshot;
  private rebuild: (() => DataPlaneSnapshot) | null = null;
  private scheduled = false;
  private lastBuildMs = 0;
  private lastBuildEnd = 0;
  private readonly listeners = new Set<(snap: DataPlaneSnapshot) => void>();
  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.rebuild) this.build();
  };

  constructor(initial: DataPlaneSnapshot) {
    this.snap = initial;
  }

  get current(): DataPlaneSnapshot {
    if (this.rebuild) this.build();
    return this.snap;
  }

  /** A change is waiting for its rebuild. */
  get stale(): boolean {
    return this.rebuild !== null;
  }

  /** Swaps in a finished snapshot (any pending rebuild is dropped: the writer knows best). */
  publish(next: DataPlaneSnapshot): void {
    this.rebuild = null;
    this.snap = next;
    this.changed();
  }

  /**
   * Calls `listener` with each new snapshot once it is built (worker processes get theirs this way: cli/workers.ts).
   * Returns its removal.
   */
  subscribe(listener: (snap: DataPlaneSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l(this.snap);
  }

  /** The snapshot is out of date; `build` makes the new one right after the current turn's changes. */
  invalidate(build: () => DataPlaneSnapshot): void {
    this.rebuild = build;
    if (this.scheduled) return;
    this.scheduled = true;
    if (this.lastBuildMs < CHEAP_BUILD_MS) return queueMicrotask(this.flush);
    const wait = this.lastBuildEnd + SPACING * this.lastBuildMs - performance.now();
    if (wait <= 0) setImmediate(this.flush).unref();
    else setTimeout(this.flush, wait).unref();
  }

  private build(): void {
    const build = this.rebuild!;
    this.rebuild = null;
    const started = performance.now();
    this.snap = build();
    this.lastBuildEnd = performance.now();
    this.lastBuildMs = this.lastBuildEnd - started;
    if (this.listeners.size > 0) this.changed();
  }
}
