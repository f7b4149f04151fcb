import { describe, expect, it } from 'vitest';
import { isLoopbackAddress } from '../deploy/admin-guard.js';
import { cliInvocation, exposures, serveBanner, tryRequest, type BannerInfo } from './banner.js';

const info: BannerInfo = {
  dataUrl: 'http://127.0.0.1:8080',
  adminUrl: 'http://127.0.0.1:8081',
  metricsUrl: 'http://127.0.0.1:9090',
  stateDir: '/home/me/sluice/.sluice',
  logs: 'pretty',
  cli: 'npm run --silent sluice --',
  defaultAdminUrl: 'http://127.0.0.1:8081',
  defaultStateDir: '/home/me/sluice/.sluice',
  services: [{ namespace: 'default', name: 'iris', runtime: 'sluice-demo', protocolVersion: 'v1', url: 'http://iris.default.example.com:8080' }],
};

describe('serve banner', () => {
  it('says what is open beyond this machine: the data plane without auth, and /metrics, off loopback', () => {
    const open = exposures({ dataHost: '0.0.0.0', dataAuth: 'none', metricsHost: '0.0.0.0' }, isLoopbackAddress);
    expect(open).toHaveLength(2);
    const text = serveBanner({ ...info, exposed: open });
    expect(text).toContain('\nOpen:\n  the data plane on 0.0.0.0 answers anyone who can reach it: services without sluice.dev/auth need no credential (dataAuth=none)');
    expect(text).toContain('\n  /metrics on 0.0.0.0 is open');
    expect(exposures({ dataHost: '0.0.0.0', dataAuth: 'api-key', metricsHost: '127.0.0.1' }, isLoopbackAddress)).toEqual([]);
    expect(exposures({ dataHost: '127.0.0.1', dataAuth: 'none', metricsHost: '127.0.0.1' }, isLoopbackAddress)).toEqual([]);
    expect(serveBanner(info)).not.toContain('Open:');
  });

  it('names the URLs, the state directory and the logs, and gives a request and a CLI call to try', () => {
    const text = serveBanner(info);
    expect(text).toContain('  data plane  http://127.0.0.1:8080 ');
    expect(text).toContain('  admin API   http://127.0.0.1:8081 ');
    expect(text).toContain('  metrics     http://127.0.0.1:9090/metrics\n');
    expect(text).toContain('  state       /home/me/sluice/.sluice\n');
    expect(text).toContain('  logs        this terminal (stdout)');
    expect(text).toContain(`\n  curl -s http://127.0.0.1:8080/v1/models/iris:predict -d '{"instances": [[6.8, 2.8, 4.8, 1.4]]}'\n`);
    expect(text).toContain('\n  npm run --silent sluice -- get isvc\n');
    expect(text.split('\n').length).toBeLessThan(20);
  });

  it('says how many data-plane worker processes run, and how to change it', () => {
    expect(serveBanner({ ...info, workers: 4 })).toContain('  workers     4 data-plane processes (--workers; --workers 1 for one process)\n');
    expect(serveBanner({ ...info, workers: 1 })).toContain('  workers     1 (this process; --workers N for more)\n');
  });

  it('adds --server when the admin API is not where the CLI looks by default, and bounds the service list', () => {
    const many = Array.from({ length: 2000 }, (_, i) => ({ namespace: 'default', name: `m${String(i).padStart(4, '0')}` }));
    const text = serveBanner({ ...info, adminUrl: 'http://127.0.0.1:18081', services: many });
    expect(text).toContain('  services    m0000, m0001, m0002 and 1997 more\n');
    expect(text).toContain('\n  curl -s http://127.0.0.1:8080/v1/models/m0000\n');
    expect(text).toContain('get isvc --server http://127.0.0.1:18081\n');
    expect(serveBanner({ ...info, services: [] })).toContain('  services    none yet: npm run --silent sluice -- apply -f FILE\n');
  });

  it('asks v2 services in v2, and services outside default by host', () => {
    expect(tryRequest({ namespace: 'default', name: 'iris', runtime: 'sluice-demo', protocolVersion: 'v2' }, 'http://127.0.0.1:8080')).toBe(
      `curl -s http://127.0.0.1:8080/v2/models/iris/infer -d '{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [6.8, 2.8, 4.8, 1.4]}]}'`,
    );
    expect(tryRequest({ namespace: 'team', name: 'bert', runtime: 'kserve-huggingfaceserver', protocolVersion: 'v2', url: 'http://bert.team.example.com:8080' }, 'http://127.0.0.1:8080')).toBe(
      `curl -s -H 'Host: bert.team.example.com' http://127.0.0.1:8080/v2/models/bert`,
    );
  });

  it('tells how to run the CLI the way serve was started', () => {
    expect(cliInvocation({ npm_package_name: 'sluice', npm_lifecycle_event: 'start' }, '/src/sluice/dist/cli/main.js', '/src/sluice')).toBe('npm run --silent sluice --');
    expect(cliInvocation({}, '/usr/local/bin/sluice', '/tmp')).toBe('sluice');
    expect(cliInvocation({}, '/src/sluice/dist/cli/main.js', '/src/sluice')).toBe('node dist/cli/main.js');
    expect(cliInvocation({}, '/src/sluice/dist/cli/main.js', '/tmp')).toBe('node /src/sluice/dist/cli/main.js');
  });
});
