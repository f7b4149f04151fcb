import type { OutgoingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { endToEndHeaders, hasBody } from './forward-headers.js';
import { failForward } from './forward-errors.js';
import type { Forwarder, ForwarderFactory } from './forwarder.js';
import { undiciPools } from './undici-pools.js';

/** undici `Pool.stream`: the factory writes the client's head and hands undici the client response to fill. */
export const undiciStreamForwarder: ForwarderFactory = (options): Forwarder => {
  const { picker, close } = undiciPools(options);
  return {
    handle(req, res) {
      const abort = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      picker.pick().stream(
        {
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: endToEndHeaders(req.headers) as Record<string, string>,
          body: hasBody(req.headers) ? req : null,
          signal: abort.signal,
        },
        ({ statusCode, headers }) => {
          res.writeHead(statusCode, endToEndHeaders(headers) as OutgoingHttpHeaders);
          return res;
        },
        (err) => {
          if (err) failForward(res, err);
        },
      );
    },
    close,
  };
};
