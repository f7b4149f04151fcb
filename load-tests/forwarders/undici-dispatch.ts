import type { OutgoingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { endToEndHeaders, hasBody } from './forward-headers.js';
import { failForward } from './forward-errors.js';
import type { Forwarder, ForwarderFactory } from './forwarder.js';
import { undiciPools } from './undici-pools.js';

/** undici `Pool.dispatch` with a handler that writes straight to the client response, honouring backpressure. */
export const undiciDispatchForwarder: ForwarderFactory = (options): Forwarder => {
  const { picker, close } = undiciPools(options);
  return {
    handle(req, res) {
      let upstream: Dispatcher.DispatchController | undefined;
      res.once('close', () => {
        if (!res.writableFinished) upstream?.abort(new Error('client closed the connection'));
      });
      picker.pick().dispatch(
        {
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: endToEndHeaders(req.headers) as Record<string, string>,
          body: hasBody(req.headers) ? req : null,
        },
        {
          onRequestStart(controller) {
            upstream = controller;
            if (res.destroyed) controller.abort(new Error('client closed the connection'));
          },
          onResponseStart(_controller, statusCode, headers) {
            res.writeHead(statusCode, endToEndHeaders(headers) as OutgoingHttpHeaders);
          },
          onResponseData(controller, chunk) {
            if (!res.write(chunk)) {
              controller.pause();
              res.once('drain', () => controller.resume());
            }
          },
          onResponseEnd() {
            res.end();
          },
          onResponseError(_controller, err) {
            failForward(res, err);
          },
        },
      );
    },
    close,
  };
};
