import type { IncomingMessage, ServerResponse } from 'node:http';

export interface ForwarderOptions {
  /** upstream origins, e.g. http://127.0.0.1:8081 */
  upstreams: readonly string[];
  /** one weight per upstream (9,1 for the 90/10 split) */
  weights: readonly number[];
  /** time allowed for the upstream's response headers */
  timeoutMs: number;
  /** most connections kept per upstream */
  connectionsPerUpstream: number;
}

/** One forwarding implementation under comparison: picks an upstream and streams the exchange. */
export interface Forwarder {
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

export type ForwarderFactory = (options: ForwarderOptions) => Forwarder;
