import { aptProxy } from './apt-proxy.js';

/** HAProxy from apt: nbthread 1, `balance roundrobin` with weights 9/1, `http-reuse always`. */
export const haproxy = aptProxy({
  name: 'haproxy',
  binary: 'haproxy',
  describe: 'HAProxy (apt), nbthread 1, balance roundrobin weights 9/1, http-reuse always',
  template: 'haproxy.cfg.template',
  args: (config) => ['-db', '-f', config.file],
});
