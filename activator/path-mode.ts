/**
 * Whether a revision's requests go through the activator or straight to its replicas (Knative's
 * target-burst-capacity rule). Pure: a function of what the autoscaler and the activator know now.
 */
export interface PathInputs {
  /** Replicas in rotation. */
  activeReplicas: number;
  /** Requests waiting in the hold queue now. */
  held: number;
  /**
   * The autoscaler's excess burst capacity: ready × per-replica capacity − target burst capacity − panic
   * demand (−1 when target burst capacity is −1, or before any decision; 0 when it is 0).
   */
  excessBurstCapacity: number;
}

/**
 * True while the activator must stay in the path: no replica in rotation, requests already waiting (they
 * must not be overtaken), or not enough spare capacity to absorb a burst.
 */
export function activatorInPath(i: PathInputs): boolean {
  if (i.activeReplicas === 0) return true;
  if (i.held > 0) return true;
  return i.excessBurstCapacity < 0;
}
