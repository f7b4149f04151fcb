import { aptProxy } from './apt-proxy.js';

/** nginx from apt: one worker, `upstream { weight=9; weight=1; keepalive 64; }`, HTTP/1.1 to upstreams. */
export const nginx = aptProxy({
  name: 'nginx',
  describe: 'nginx (apt), worker_processes 1, upstream weights 9/1, keepalive 64, proxy_http_version 1.1',
  template: 'nginx.conf.template',
  args: (config) => ['-e', `${config.dir}/error.log`, '-p', config.dir, '-c', config.file],
});
