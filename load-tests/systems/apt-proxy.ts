import { ensureInstalled } from '../baselines/install.js';
import { freePort, spawnService } from '../harness/child-process.js';
import { renderBaselineConfig } from './config-template.js';
import type { SystemDefinition } from './system.js';

/** A proxy from apt started on a config rendered from load-tests/baselines/<template> (nginx, HAProxy). */
export function aptProxy(o: {
  /** the system's name in reports */
  name: string;
  /** the binary, which is also its apt package */
  binary: 'nginx' | 'haproxy';
  describe: string;
  template: string;
  /** further template values (e.g. nginx's worker count) */
  values?: Record<string, number>;
  args: (config: { dir: string; file: string }) => string[];
}): SystemDefinition {
  return {
    name: o.name,
    describe: o.describe,
    splits: true,
    unavailable: async () => ensureInstalled(o.binary),
    start: async (upstreams, options) => {
      const port = await freePort();
      const config = renderBaselineConfig(o.template, {
        port,
        primary: upstreams.primary.port,
        canary: upstreams.canary.port,
        timeoutMs: options.upstreamTimeoutMs,
        ...o.values,
      });
      try {
        const service = await spawnService(options.children, {
          command: o.binary,
          args: o.args(config),
          ready: { kind: 'accepts', port },
          guarded: true,
          label: o.name,
        });
        return {
          url: `http://127.0.0.1:${port}`,
          pid: service.pid,
          stop: async () => {
            await service.stop();
            config.remove();
          },
        };
      } catch (err) {
        config.remove();
        throw err;
      }
    },
  };
}
