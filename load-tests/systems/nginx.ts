import { aptProxy } from './apt-proxy.js';

const nginxArgs = (config: { dir: string; file: string }): string[] => ['-e', `${config.dir}/error.log`, '-p', config.dir, '-c', config.file];

/** nginx from apt: one worker, `upstream { weight=9; weight=1; keepalive 64; }`, HTTP/1.1 to upstreams. */
export const nginx = aptProxy({
  name: 'nginx',
  binary: 'nginx',
  describe: 'nginx (apt), worker_processes 1, upstream weights 9/1, keepalive 64, proxy_http_version 1.1',
  template: 'nginx.conf.template',
  values: { workers: 1 },
  args: nginxArgs,
});

/** The same with two workers, beside `sluice-2w` in the scale-out scenario. */
export const nginxTwoWorkers = aptProxy({
  name: 'nginx-2w',
  binary: 'nginx',
  describe: 'nginx (apt) as above with worker_processes 2',
  template: 'nginx.conf.template',
  values: { workers: 2 },
  args: nginxArgs,
});
