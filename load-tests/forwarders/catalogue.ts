import type { ForwarderFactory } from './forwarder.js';
import { httpProxyForwarder } from './http-proxy.js';
import { httpProxy3Forwarder } from './http-proxy-3.js';
import { nodeHttpForwarder } from './node-http.js';
import { undiciDispatchForwarder } from './undici-dispatch.js';
import { undiciRequestForwarder } from './undici-request.js';
import { undiciStreamForwarder } from './undici-stream.js';

/** Every forwarding implementation measured, by the name used in reports and on the command line. */
export const FORWARDERS: Readonly<Record<string, ForwarderFactory>> = {
  'node-http': nodeHttpForwarder,
  'http-proxy': httpProxyForwarder,
  'http-proxy-3': httpProxy3Forwarder,
  'undici-stream': undiciStreamForwarder,
  'undici-dispatch': undiciDispatchForwarder,
  'undici-request': undiciRequestForwarder,
};
