import type { DataPlaneSnapshot, RevisionView } from '../data-plane.js';
import { RevisionAnswers } from '../revision-answers.js';

export interface GrpcProbeLimits {
  /** Largest ModelMetadata answer kept per revision and version; a larger one is forwarded every time. 64 KiB. */
  maxMessageBytes?: number;
  /** Versions kept per revision. Default 4. */
  maxVersionsPerRevision?: number;
  /** Revisions with kept answers; the oldest entry goes first past it. Default 10,000. */
  maxRevisions?: number;
}


/**
 * The OIP `ModelMetadata` answers a revision's replicas gave over gRPC, kept so that the same call to the revision
 * at zero is answered by the gateway instead of waking it (the gRPC side of gateway/model-probes.ts; docs/probes.md).
 * Bounded: one message per revision and version, small messages only, a fixed number of revisions; a revision's
 * entry goes when the revision leaves the snapshot.
 */
export class GrpcModelProbes {
  readonly maxMessageBytes: number;
  /** version ('' for none) → the replica's answer (one uncompressed message frame), per revision. */
  private readonly answers: RevisionAnswers<Buffer>;

  constructor(limits: GrpcProbeLimits = {}) {
    this.maxMessageBytes = limits.maxMessageBytes ?? 64 * 1024;
    this.answers = new RevisionAnswers(limits.maxVersionsPerRevision ?? 4, limits.maxRevisions ?? 10_000);
  }

  get size(): number {
    return this.answers.size;
  }

  /** The kept answer (a message frame) for `rev` and `version`, if any. */
  kept(snap: DataPlaneSnapshot, rev: RevisionView, version: string): Buffer | undefined {
    this.answers.sync(snap);
    return this.answers.get(rev, version);
  }

  /** Keeps `frame` (one whole uncompressed message frame, checked here) as the answer for `rev` and `version`. */
  keep(rev: RevisionView, version: string, frame: Buffer): void {
    if (frame.length < 5 || frame.length > this.maxMessageBytes + 5 || frame[0] !== 0 || frame.readUInt32BE(1) !== frame.length - 5) return;
    this.answers.set(rev, version, frame);
  }
}
