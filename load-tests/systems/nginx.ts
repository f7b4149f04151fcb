import { ensureInstalled } from '../baselines/install.js';
import { freePort, spawnService } from '../harness/child-process.js';
import { renderBaselineConfig } from './config-template.js';
import type { SystemDefinition } from './system.js';

/** nginx from apt: one worker, `upstream { weight=9; weight=1; keepalive 64; }`, HTTP/1.1 to upstreams. */
export const nginx: SystemDefinition = {
  name: 'nginx',
  describe: 'nginx (apt), worker_processes 1, upstream weights 9/1, keepalive 64, proxy_http_version 1.1',
  splits: true,
  unavailable: async () => ensureInstalled('nginx'),
  start: async (upstreams, options) => {
    const port = await freePort();
    const config = renderBaselineConfig('nginx.conf.template', {
      port,
      primary: upstreams.primary.port,
      canary: upstreams.canary.port,
      timeoutMs: options.upstreamTimeoutMs,
    });
    try {
      const service = await spawnService(options.children, {
        command: 'nginx',
        args: ['-e', `${config.dir}/error.log`, '-p', config.dir, '-c', config.file],
        ready: { kind: 'accepts', port },
        guarded: true,
        label: 'nginx',
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
