import { Pool } from 'undici';
import type { ForwarderOptions } from './forwarder.js';
import { WeightedPicker } from './weighted-picker.js';

/** One undici Pool per upstream behind the weighted picker; shared by the three undici forwarders. */
export function undiciPools(options: ForwarderOptions): { picker: WeightedPicker<Pool>; close(): Promise<void> } {
  const pools = options.upstreams.map(
    (origin) =>
      new Pool(origin, {
        connections: options.connectionsPerUpstream,
        pipelining: 1,
        keepAliveTimeout: 60_000,
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
      }),
  );
  return {
    picker: new WeightedPicker(pools, options.weights),
    close: async () => {
      await Promise.all(pools.map((p) => p.destroy()));
    },
  };
}
