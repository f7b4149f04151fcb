import type { SystemDefinition } from './system.js';

/** The upstream reached with no proxy: the primary instance only (a client cannot split by itself). */
export const direct: SystemDefinition = {
  name: 'direct',
  describe: 'client → primary upstream, no proxy',
  splits: false,
  start: async (upstreams) => ({ url: upstreams.primary.url, stop: async () => undefined }),
};
