import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findFreePort } from '../../deploy/backends/local/free-port.js';
import { configFolder, demoService } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { pidAlive, waitUntil } from '../support/wait.js';

describe('sluice serve as a process', () => {
  it('on SIGTERM finishes in-flight requests, stops its replicas and exits 0', async () => {
    const dir = configFolder({
      'slow.yaml': demoService('slow', {
        annotations: { 'autoscaling.knative.dev/initial-scale': '0' },
        env: { SLUICE_DEMO_LATENCY_MS: '1500' },
      }),
    });
    const [data, admin, metrics] = [await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1')];
    const child = spawn(
      process.execPath,
      [join(SLUICE_ROOT, 'dist', 'cli', 'main.js'), 'serve', '--config', dir, '--data-port', String(data), '--admin-port', String(admin), '--metrics-port', String(metrics), '--data-host', '127.0.0.1', '--log-level', 'warn',
        '--state-dir', mkdtempSync(join(tmpdir(), 'sluice-state-'))],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitUntil('the admin API to be ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => null))?.ok, 15_000, 100);
      const pending = fetch(`http://127.0.0.1:${data}/v1/models/slow:predict`, {
        method: 'POST',
        body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }),
      });
      // Wait until the replica is up and the request is on it, then ask Sluice to stop.
      const replicaPid = await waitUntil(
        'a replica to start',
        async () => {
          const m = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
          return /sluice_replica_inflight\{[^}]*\} 1/.test(m) ? true : undefined;
        },
        15_000,
        50,
      );
      expect(replicaPid).toBe(true);
      // The replicas are Sluice's own children.
      const pids = execFileSync('pgrep', ['-P', String(child.pid)]).toString().trim().split('\n').map(Number);
      expect(pids.length).toBeGreaterThan(0);
      child.kill('SIGTERM');
      const res = await pending;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ predictions: [1] });
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/SIGTERM: finishing in-flight requests/);
      await fetch(`http://127.0.0.1:${data}/`).then(
        () => expect.fail('the gateway still accepts connections'),
        () => undefined,
      );
      await waitUntil('replicas to exit', () => pids.every((p) => !pidAlive(p)), 5_000, 50);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
