/** The two upstream instances every system splits over: `primary` gets weight 9, `canary` weight 1. */
export interface UpstreamPair {
  primary: { url: string; port: number };
  canary: { url: string; port: number };
  /** relative weights, primary first (9/1 for the 90/10 split) */
  weights: readonly [number, number];
}

import type { ChildRegistry } from '../harness/child-process.js';

export interface StartOptions {
  /** spawn child processes through this, so an interrupted run ends them */
  children: ChildRegistry;
  /** how long the system waits for an upstream's response headers before answering 504 */
  upstreamTimeoutMs: number;
}

/** A system under test, started against the shared upstreams; `pid` lets the harness count its descriptors. */
export interface RunningSystem {
  url: string;
  pid?: number;
  stop(): Promise<void>;
}

/**
 * One system the scenarios compare. Adding a system (e.g. the real `sluice serve`) is one object of this
 * shape, listed in systems/catalogue.ts.
 */
export interface SystemDefinition {
  name: string;
  /** one line for the report: what runs and how it is configured */
  describe: string;
  /** whether the system splits traffic (direct does not: it hits the primary only) */
  splits: boolean;
  /** undefined when it can run here; otherwise why not (the scenario reports it as skipped) */
  unavailable?(): Promise<string | undefined>;
  start(upstreams: UpstreamPair, options: StartOptions): Promise<RunningSystem>;
}
