import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findFreePort } from '../../deploy/backends/local/free-port.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';

const MAIN = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');

/** `sluice serve` as a child process in a fresh folder, with only the given SLUICE_* variables. */
function serve(dir: string, args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SLUICE_')));
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], { cwd: dir, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

describe('sluice serve --config-file', () => {
  it('a bad value in the file stops the start, naming the file, the setting and the range, before anything starts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-file-'));
    const stateDir = join(dir, 'state');
    writeFileSync(join(dir, 'bad.yaml'), `stateDir: ${stateDir}\ndataPort: 70000\nmaxHeldPerRevision: 0\n`);
    const s = serve(dir, ['--config-file', 'bad.yaml'], { SLUICE_SHUTDOWN_GRACE_SECONDS: '-1' });
    try {
      expect(await s.exited).toBe(1);
      expect(s.stderr()).toContain('bad.yaml: dataPort: 70000: dataPort must be ≤ 65535 (allowed: integer 0–65535)');
      expect(s.stderr()).toContain('bad.yaml: maxHeldPerRevision: 0: maxHeldPerRevision must be ≥ 1 (allowed: integer ≥ 1)');
      expect(s.stderr()).toContain('SLUICE_SHUTDOWN_GRACE_SECONDS=-1: shutdownGraceSeconds must be ≥ 0 (allowed: number ≥ 0)');
      // Nothing started: the state directory (made first thing at start) does not exist.
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      if (s.child.exitCode === null) s.child.kill('SIGKILL');
    }
  });

  it('an unknown key in the file is refused with the known keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-file-'));
    writeFileSync(join(dir, 'sluice.yaml'), 'serve:\n  dataPort: 9000\n');
    const s = serve(dir, ['--config-file', 'sluice.yaml']);
    expect(await s.exited).toBe(1);
    expect(s.stderr()).toMatch(/sluice\.yaml: serve: unknown setting "serve"; known: configDir, watch, dataHost, dataPort/);
  });

  it('serves with settings from the file, an environment variable over the file, and a flag over both', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-config-file-'));
    const [fileData, envData, admin, metrics] = [
      await findFreePort('127.0.0.1'),
      await findFreePort('127.0.0.1'),
      await findFreePort('127.0.0.1'),
      await findFreePort('127.0.0.1'),
    ];
    writeFileSync(
      join(dir, 'sluice.yaml'),
      `dataHost: 127.0.0.1\ndataPort: ${fileData}\nadminPort: ${admin}\nmetricsHost: 127.0.0.1\nmetricsPort: 1\nlogLevel: warn\nstateDir: ${join(dir, 'state')}\n`,
    );
    const s = serve(dir, ['--config-file', 'sluice.yaml', '--metrics-port', String(metrics)], { SLUICE_DATA_PORT: String(envData) });
    try {
      await waitUntil('the admin API (port from the file) to be ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => null))?.ok, 20_000, 100);
      // The gateway is on the environment's port (over the file's); /metrics on the flag's (over the file's 1).
      expect((await fetch(`http://127.0.0.1:${envData}/v2/health/live`).catch(() => null)) !== null).toBe(true);
      expect((await fetch(`http://127.0.0.1:${metrics}/metrics`)).status).toBe(200);
      await fetch(`http://127.0.0.1:${fileData}/`).then(
        () => expect.fail('the gateway listens on the file\'s port, though the environment overrides it'),
        () => undefined,
      );
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
