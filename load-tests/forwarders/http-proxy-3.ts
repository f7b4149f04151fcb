import { Agent } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { failForward } from './forward-errors.js';
import type { Forwarder, ForwarderFactory } from './forwarder.js';
import { WeightedPicker } from './weighted-picker.js';

/** `http-proxy-3` (the maintained, API-compatible successor) with a keep-alive Agent and `proxyTimeout`. */
export const httpProxy3Forwarder: ForwarderFactory = (options): Forwarder => {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connectionsPerUpstream, maxFreeSockets: options.connectionsPerUpstream });
  const proxy = createProxyServer({ agent, proxyTimeout: options.timeoutMs });
  proxy.on('error', (err, _req, res) => {
    if (res && 'writeHead' in res) failForward(res, err);
    else res?.destroy();
  });
  const picker = new WeightedPicker(options.upstreams, options.weights);
  return {
    handle(req, res) {
      proxy.web(req, res, { target: picker.pick() });
    },
    close: async () => {
      proxy.close();
      agent.destroy();
    },
  };
};
