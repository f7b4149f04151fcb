import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../harness/paths.js';
import type { SystemDefinition } from './system.js';

/**
 * The real gateway, `sluice serve`, in front of the same two upstreams with the same 90/10 split.
 *
 * Not wired yet: the gateway is being written. To wire it, make `start` write a temp config with one
 * InferenceService whose two revisions point at `upstreams.primary.url` and `upstreams.canary.url` with
 * traffic 90/10 (a static/external endpoint backend), spawn `node dist/cli/main.js serve --config <dir>
 * --port <freePort()>` with `spawnService({ ready: { kind: 'accepts', port } })`, and return
 * `{ url, pid, stop }`; then drop the `unavailable` check. Every scenario that lists 'sluice' picks it up.
 */
export const sluice: SystemDefinition = {
  name: 'sluice',
  describe: 'sluice serve (embedded mode), one process, 90/10 split over the same upstreams',
  splits: true,
  unavailable: async () =>
    existsSync(join(repoRoot(), 'dist', 'cli', 'main.js'))
      ? 'load-tests/systems/sluice.ts is not wired to `sluice serve` yet'
      : 'sluice is not built (dist/cli/main.js missing) and load-tests/systems/sluice.ts is not wired yet',
  start: async () => {
    throw new Error('the sluice system is not wired yet (see load-tests/systems/sluice.ts)');
  },
};
