import type { DataPlaneSnapshot, RevisionView } from '../data-plane.js';

export interface GrpcProbeLimits {
  /** Largest ModelMetadata answer kept per revision and version; a larger one is forwarded every time. 64 KiB. */
  maxMessageBytes?: number;
  /** Versions kept per revision. Default 4. */
  maxVersionsPerRevision?: number;
  /** Revisions with kept answers; the oldest entry goes first past it. Default 10,000. */
  maxRevisions?: number;
}

interface RevisionEntry {
  /** A revision deleted and created again under the same name is another. */
  createdAt: string;
  /** version ('' for none) → the replica's answer: one uncompressed message frame. */
  versions: Map<string, Buffer>;
}

/**
 * The OIP `ModelMetadata` answers a revision's replicas gave over gRPC, kept so that the same call to the revision
 * at zero is answered by the gateway instead of waking it (the gRPC side of gateway/model-probes.ts; docs/probes.md).
 * Bounded: one message per revision and version, small messages only, a fixed number of revisions; a revision's
 * entry goes when the revision leaves the snapshot.
 */
export class GrpcModelProbes {
  readonly maxMessageBytes: number;
  private readonly maxVersions: number;
  private readonly maxRevisions: number;
  private readonly byRevision = new Map<string, RevisionEntry>();
  private seen: DataPlaneSnapshot | null = null;

  constructor(limits: GrpcProbeLimits = {}) {
    this.maxMessageBytes = limits.maxMessageBytes ?? 64 * 1024;
    this.maxVersions = limits.maxVersionsPerRevision ?? 4;
    this.maxRevisions = limits.maxRevisions ?? 10_000;
  }

  get size(): number {
    return this.byRevision.size;
  }

  /** The kept answer (a message frame) for `rev` and `version`, if any. */
  kept(snap: DataPlaneSnapshot, rev: RevisionView, version: string): Buffer | undefined {
    if (snap !== this.seen) this.prune(snap);
    const entry = this.byRevision.get(rev.key);
    if (entry === undefined) return undefined;
    if (entry.createdAt !== rev.createdAt) {
      this.byRevision.delete(rev.key);
      return undefined;
    }
    return entry.versions.get(version);
  }

  /** Keeps `frame` (one whole uncompressed message frame, checked here) as the answer for `rev` and `version`. */
  keep(rev: RevisionView, version: string, frame: Buffer): void {
    if (frame.length < 5 || frame.length > this.maxMessageBytes + 5 || frame[0] !== 0 || frame.readUInt32BE(1) !== frame.length - 5) return;
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
    entry.versions.set(version, frame);
  }

  private prune(snap: DataPlaneSnapshot): void {
    this.seen = snap;
    for (const key of this.byRevision.keys()) if (!snap.revisions.has(key)) this.byRevision.delete(key);
  }
}
