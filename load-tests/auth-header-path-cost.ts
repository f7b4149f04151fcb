/**
 * The upstream-header path of one proxied request, in process, with and without a cached API key: the replica's
 * headers built from the client's (forward-headers.ts), the auth stage's onRouted and onUpstreamHeaders on a real
 * Exchange, then the request head written from the header object: by Sluice's own upstream client (`requestWire`,
 * the data port's path) and by undici's Request (its constructor: Object.keys, a keyed load and validation per
 * header). Three cases: auth none and no credential; auth none and the API key sent anyway (the same requests with
 * auth off); the cached API key. Each request gets a new header object and new header
 * strings, as Node's parser makes them. Reports CPU ns per request (process.cpuUsage), median of 7 batches.
 * Where auth-stage-cost.js measures the stage alone, this one shows what the stage does to the work around it
 * (e.g. a `delete` that turns the header object into a dictionary-mode object). Usage:
 *   npm run build && node dist/load-tests/auth-header-path-cost.js
 * To compare builds, run each build's copy (the file imports its own build's gateway/).
 */
import { createRequire } from 'node:module';
import type { Route } from '../api/route.js';
import { Exchange } from '../gateway/exchange.js';
import { upstreamRequestHeaders } from '../gateway/forward-headers.js';
import { requestWire } from '../gateway/upstream-client.js';
import type { Pipeline } from '../gateway/pipeline.js';
import { AuthStage } from '../gateway/stages/auth/auth-stage.js';
import type { IncomingMessage, ServerResponse } from 'node:http';

// undici's own Request (what Pool.dispatch builds from the options); internal, so loaded by path.
const UndiciRequest = createRequire(import.meta.url)('undici/lib/core/request.js') as new (
  origin: string,
  opts: Record<string, unknown>,
  handler: Record<string, () => void>,
) => { headers: string[] };

const KEY = `sk-sluice-${'0'.repeat(16)}.${'A'.repeat(43)}`;
const RECORD = { id: 'abcd', name: 'bench', hash: '', scopes: [{ namespace: '*' }], createdAt: '' };
const HANDLER = { onConnect() {}, onHeaders() {}, onData() {}, onComplete() {}, onError() {} };
const N = 200_000;
const BODY = Buffer.from('{"instances":[[6.8,2.8,4.8,1.4]]}');

function route(keyed: boolean): Route {
  return { namespace: 'default', service: 'bench', modelName: 'bench', hosts: [], targets: [], auth: keyed ? { mode: 'api-key', key: 'api-key' } : { mode: 'none', key: 'none' } };
}

/**
 * `keyed`: the service asks for an API key; `clientSendsKey`: the requests carry it (with `keyed` false, the same
 * requests with auth off); `writer`: Sluice's own upstream client (`requestWire`, given the client's headers as its strict parser made them,
 * the data port's path) or undici's Request (node:http's server, and bodies streamed to the replica).
 */
function measure(keyed: boolean, writer: 'own' | 'undici', clientSendsKey = keyed): number {
  const stage = new AuthStage({ defaultPolicy: { mode: 'none', key: 'none' }, keys: { byHash: () => RECORD, version: 1 }, jwt: null, domain: 'example.com' });
  const r = route(keyed);
  const socket = { remoteAddress: '127.0.0.1' };
  const pipeline = {} as Pipeline;
  const kept: Exchange[] = new Array<Exchange>(256);
  let bytes = 0;
  const one = (i: number): void => {
    const headers: Record<string, string> = { host: `127.0.0.1:${8000 + (i & 1)}`, 'content-type': 'application/json', 'content-length': String(200 + (i & 1)), 'user-agent': 'wrk' };
    if (clientSendsKey) headers.authorization = `Bearer ${KEY.slice(0, 10)}${KEY.slice(10)}`;
    const req = { method: 'POST', headers, socket } as unknown as IncomingMessage;
    const ex = new Exchange(req, {} as ServerResponse, 0, 0, pipeline);
    ex.match = { route: r, path: '/v1/models/bench:predict', tag: null } as unknown as Exchange['match'];
    if (stage.onRouted(ex) !== undefined) throw new Error('the bench request was refused');
    const h = upstreamRequestHeaders(req, ex.upstreamDrop);
    stage.onUpstreamHeaders(ex, h);
    if (writer === 'own') bytes += requestWire('POST', '/v1/models/bench:predict', '127.0.0.1:9', h, BODY, headers).length;
    else {
      const u = new UndiciRequest('http://127.0.0.1:9', { path: '/v1/models/bench:predict', method: 'POST', headers: h, body: null, headersTimeout: 1000, bodyTimeout: 1000 }, HANDLER);
      let head = 'POST /v1/models/bench:predict HTTP/1.1\r\n';
      for (let j = 0; j < u.headers.length; j += 2) head += `${u.headers[j]}: ${u.headers[j + 1]}\r\n`;
      bytes += head.length;
    }
    kept[i & 255] = ex;
  };
  for (let i = 0; i < N; i++) one(i);
  const batches: number[] = [];
  for (let b = 0; b < 7; b++) {
    const t0 = process.cpuUsage();
    for (let i = 0; i < N; i++) one(i);
    const d = process.cpuUsage(t0);
    batches.push(((d.user + d.system) * 1000) / N);
  }
  if (bytes === 0) throw new Error('nothing written');
  return batches.sort((a, b) => a - b)[3]!;
}

const rows: string[] = [];
for (const writer of ['own', 'undici'] as const) {
  const off = measure(false, writer);
  const offKey = measure(false, writer, true);
  const keyed = measure(true, writer);
  const what = writer === 'own' ? "Sluice's upstream client (`requestWire`; the data port's path)" : "undici's Request (node:http's server; streamed bodies)";
  rows.push(
    `| ${what} | ${off.toFixed(0)} | ${offKey.toFixed(0)} (${offKey >= off ? '+' : ''}${(offKey - off).toFixed(0)}) | ${keyed.toFixed(0)} (+${(keyed - offKey).toFixed(0)} vs the same requests with auth off) |`,
  );
}
process.stdout.write(
  [
    '| header path | auth none, no credential (ns) | auth none, the API key sent anyway (ns) | cached API key: stage, identity headers, credential left out (ns) |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
