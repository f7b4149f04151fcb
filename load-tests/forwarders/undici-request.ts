import type { OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import type { Dispatcher } from 'undici';
import { endToEndHeaders, hasBody } from './forward-headers.js';
import { failForward } from './forward-errors.js';
import type { Forwarder, ForwarderFactory } from './forwarder.js';
import { undiciPools } from './undici-pools.js';

/** undici `Pool.request` (promise API, body as a Readable) piped to the client, for comparison. */
export const undiciRequestForwarder: ForwarderFactory = (options): Forwarder => {
  const { picker, close } = undiciPools(options);
  return {
    handle(req, res) {
      const abort = new AbortController();
      res.once('close', () => {
        if (!res.writableFinished) abort.abort();
      });
      picker
        .pick()
        .request({
          path: req.url ?? '/',
          method: (req.method ?? 'GET') as Dispatcher.HttpMethod,
          headers: endToEndHeaders(req.headers) as Record<string, string>,
          body: hasBody(req.headers) ? req : null,
          signal: abort.signal,
        })
        .then(
          ({ statusCode, headers, body }) => {
            res.writeHead(statusCode, endToEndHeaders(headers) as OutgoingHttpHeaders);
            pipeline(body, res, () => undefined);
          },
          (err: unknown) => failForward(res, err),
        );
    },
    close,
  };
};
