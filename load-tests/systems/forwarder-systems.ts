import { fileURLToPath } from 'node:url';
import { spawnService } from '../harness/child-process.js';
import type { SystemDefinition } from './system.js';

const serverScript = fileURLToPath(new URL('../forwarders/server.js', import.meta.url));

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  'node-http': 'minimal Node proxy: node:http + keep-alive Agent, bodies piped',
  'http-proxy': 'http-proxy 1.18.1 + keep-alive Agent, proxyTimeout',
  'http-proxy-3': 'http-proxy-3 1.23.3 + keep-alive Agent, proxyTimeout',
  'undici-stream': 'undici Pool per upstream, pool.stream into the client response',
  'undici-dispatch': 'undici Pool per upstream, pool.dispatch handler writing the client response',
  'undici-request': 'undici Pool per upstream, pool.request body piped to the client',
};

/** A forwarder from load-tests/forwarders/ run as its own Node process (one process, like the baselines). */
export function forwarderSystem(forwarder: string): SystemDefinition {
  return {
    name: forwarder,
    describe: DESCRIPTIONS[forwarder] ?? forwarder,
    splits: true,
    start: async (upstreams, options) => {
      const service = await spawnService(options.children, {
        command: process.execPath,
        args: [
          serverScript,
          forwarder,
          '--upstream',
          upstreams.primary.url,
          '--upstream',
          upstreams.canary.url,
          '--weights',
          upstreams.weights.join(','),
          '--timeout-ms',
          String(options.upstreamTimeoutMs),
        ],
        ready: { kind: 'prints-port' },
        label: forwarder,
      });
      return { url: `http://127.0.0.1:${service.port}`, pid: service.pid, stop: service.stop };
    },
  };
}
