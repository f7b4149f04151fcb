import { Agent } from 'node:http';
import httpProxy from 'http-proxy';
import { failForward } from './forward-errors.js';
import type { Forwarder, ForwarderFactory } from './forwarder.js';
import { WeightedPicker } from './weighted-picker.js';

/** `http-proxy` 1.18.1 (last release 2020) with a keep-alive Agent and its own `proxyTimeout`. */
export const httpProxyForwarder: ForwarderFactory = (options): Forwarder => {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connectionsPerUpstream, maxFreeSockets: options.connectionsPerUpstream });
  const proxy = httpProxy.createProxyServer({ agent, proxyTimeout: options.timeoutMs });
  proxy.on('error', (err, _req, res) => {
    if ('writeHead' in res) failForward(res, err);
    else res.destroy();
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
