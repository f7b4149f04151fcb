import { ensureInstalled } from '../baselines/install.js';
import { freePort, spawnService } from '../harness/child-process.js';
import { renderBaselineConfig } from './config-template.js';
import type { SystemDefinition } from './system.js';

/** HAProxy from apt: nbthread 1, `balance roundrobin` with weights 9/1, `http-reuse always`. */
export const haproxy: SystemDefinition = {
  name: 'haproxy',
  describe: 'HAProxy (apt), nbthread 1, balance roundrobin weights 9/1, http-reuse always',
  splits: true,
  unavailable: async () => ensureInstalled('haproxy'),
  start: async (upstreams, options) => {
    const port = await freePort();
    const config = renderBaselineConfig('haproxy.cfg.template', {
      port,
      primary: upstreams.primary.port,
      canary: upstreams.canary.port,
      timeoutMs: options.upstreamTimeoutMs,
    });
    try {
      const service = await spawnService(options.children, {
        command: 'haproxy',
        args: ['-db', '-f', config.file],
        ready: { kind: 'accepts', port },
        guarded: true,
        label: 'haproxy',
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
