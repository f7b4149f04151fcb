import { aptProxy } from './apt-proxy.js';
import type { SystemDefinition } from './system.js';

/** nginx from apt: `upstream { weight=9; weight=1; keepalive 512; }` (as many idle upstream connections as Sluice may keep to two replicas; the template says why), HTTP/1.1 to upstreams, `workers` worker processes. */
function nginxWith(name: string, workers: number): SystemDefinition {
  return aptProxy({
    name,
    binary: 'nginx',
    describe: `nginx (apt), worker_processes ${workers}, upstream weights 9/1, keepalive 512, proxy_http_version 1.1`,
    template: 'nginx.conf.template',
    values: { workers },
    args: (config) => ['-e', `${config.dir}/error.log`, '-p', config.dir, '-c', config.file],
  });
}

export const nginx = nginxWith('nginx', 1);

/** The same with two workers, beside `sluice-2w` in the scale-out scenario. */
export const nginxTwoWorkers = nginxWith('nginx-2w', 2);
