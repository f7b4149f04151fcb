import { Agent, request } from 'node:http';
import { pipeline } from 'node:stream';
import { endToEndHeaders } from './forward-headers.js';
import { failForward, UpstreamTimeoutError } from './forward-errors.js';
import type { Forwarder, ForwarderFactory } from './forwarder.js';
import { WeightedPicker } from './weighted-picker.js';

/** node:http with one keep-alive Agent: `http.request` per exchange, bodies piped both ways. */
export const nodeHttpForwarder: ForwarderFactory = (options): Forwarder => {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connectionsPerUpstream, maxFreeSockets: options.connectionsPerUpstream });
  const picker = new WeightedPicker(
    options.upstreams.map((u) => new URL(u)),
    options.weights,
  );
  return {
    handle(req, res) {
      const target = picker.pick();
      const upstreamReq = request({
        agent,
        hostname: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: endToEndHeaders(req.headers),
      });
      upstreamReq.setTimeout(options.timeoutMs, () => upstreamReq.destroy(new UpstreamTimeoutError(options.timeoutMs)));
      upstreamReq.once('response', (upstreamRes) => {
        upstreamReq.setTimeout(0);
        res.writeHead(upstreamRes.statusCode ?? 502, endToEndHeaders(upstreamRes.headers));
        pipeline(upstreamRes, res, () => undefined);
      });
      upstreamReq.once('error', (err) => failForward(res, err));
      res.once('close', () => {
        if (!res.writableFinished) upstreamReq.destroy();
      });
      req.pipe(upstreamReq);
    },
    close: async () => agent.destroy(),
  };
};
