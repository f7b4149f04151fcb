import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnService } from '../harness/child-process.js';
import type { SystemDefinition } from './system.js';

const serverScript = fileURLToPath(new URL('./sluice-server.js', import.meta.url));

/**
 * The real gateway: `sluice serve` (embedded mode, one process) with routing, the 90/10 canary split, the
 * activator's dispatch and metrics on, in front of the same two upstreams as every other system
 * (they are the replicas of the InferenceService's two revisions, through the static backend).
 */
export const sluice: SystemDefinition = {
  name: 'sluice',
  describe: 'sluice serve (embedded, one process): path routing, 90/10 canary split, activator dispatch, metrics',
  splits: true,
  unavailable: async () => (existsSync(serverScript) ? undefined : 'sluice is not built (run npm run build)'),
  start: async (upstreams, options) => {
    const service = await spawnService(options.children, {
      command: process.execPath,
      args: [serverScript, '--upstream', upstreams.primary.url, '--upstream', upstreams.canary.url, '--timeout-ms', String(options.upstreamTimeoutMs)],
      ready: { kind: 'prints-port' },
      label: 'sluice',
    });
    return { url: `http://127.0.0.1:${service.port}`, pid: service.pid, stop: service.stop };
  },
};
