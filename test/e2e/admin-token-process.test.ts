/**
 * `sluice serve` makes the admin token, keeps it owner-only in the state directory and reuses it; the CLI finds it
 * there by itself; an admin API off loopback without an explicit token refuses to start. Real processes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findFreePort } from '../../deploy/backends/local/free-port.js';
import { configFolder, demoService } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';

const run = promisify(execFile);
const CLI = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');
/** The environment without any Sluice setting of the test runner's own. */
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ['SLUICE_ADMIN_TOKEN', 'SLUICE_TOKEN', 'SLUICE_CONTEXT', 'SLUICE_STATE_DIR', 'SLUICE_SERVER']) if (!(k in extra)) delete env[k];
  return env;
};

interface Serve {
  child: ChildProcess;
  admin: number;
  stderr: () => string;
  exited: Promise<number | null>;
  stop: () => Promise<void>;
}

async function serve(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<Serve> {
  const [data, admin, metrics] = [await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1')];
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--data-host', '127.0.0.1', '--data-port', String(data), '--admin-port', String(admin), '--metrics-host', '127.0.0.1', '--metrics-port', String(metrics), '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'ignore', 'pipe'], env },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    admin,
    stderr: () => stderr,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

const ready = (admin: number): Promise<boolean> =>
  waitUntil('the admin API to be ready', async () => (await fetch(`http://127.0.0.1:${admin}/readyz`).catch(() => null))?.ok, 20_000, 100);

async function sluice(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    // A fresh working directory: no ./.sluice there.
    const r = await run(process.execPath, [CLI, ...args], { cwd: mkdtempSync(join(tmpdir(), 'sluice-cwd-')), env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the admin token of sluice serve', () => {
  it('refuses to start with --admin-host 0.0.0.0 and no --admin-token, saying why', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'sluice-state-')), 'state');
    const s = await serve(['--admin-host', '0.0.0.0', '--state-dir', stateDir]);
    try {
      const code = await Promise.race([s.exited, new Promise<string>((r) => setTimeout(() => r('still running after 30 s'), 30_000))]);
      expect(code).toBe(1);
      expect(s.stderr()).toMatch(/^error: --admin-host 0\.0\.0\.0 would let other machines reach the admin API, and whoever can apply an InferenceService runs processes as this user; so an explicit token is required: set --admin-token or SLUICE_ADMIN_TOKEN/);
      expect(s.stderr()).toMatch(/docs\/security\.md/);
      // Nothing was started or written.
      expect(existsSync(stateDir)).toBe(false);
      expect(await fetch(`http://127.0.0.1:${s.admin}/healthz`).catch(() => null)).toBeNull();
    } finally {
      await s.stop();
    }
  });

  it('with an explicit token off loopback it starts, writes no token file, and the CLI uses SLUICE_ADMIN_TOKEN', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'sluice-state-'));
    const token = 'explicit-token-0123456789';
    const s = await serve(['--admin-host', '0.0.0.0', '--state-dir', stateDir], cleanEnv({ SLUICE_ADMIN_TOKEN: token }));
    try {
      await ready(s.admin);
      expect(existsSync(join(stateDir, 'admin-token'))).toBe(false);
      const server = `http://127.0.0.1:${s.admin}`;
      const ok = await sluice(['get', 'isvc', '--server', server], cleanEnv({ SLUICE_ADMIN_TOKEN: token }));
      expect(ok).toMatchObject({ code: 0, stderr: 'No resources found in default namespace.\n' });
      const refused = await sluice(['get', 'isvc', '--server', server, '--token', 'some-other-token-0123'], cleanEnv());
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: the admin token sent is not the one this server accepts \(HTTP 401 from http:\/\/127\.0\.0\.1:\d+\): the token given with --token was refused; pass --token or set SLUICE_TOKEN/);
      expect(s.stderr()).not.toContain(token);
    } finally {
      await s.stop();
    }
  });

  it('is made at start in the state directory (0600 in 0700), found there by the CLI, and reused after a restart', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'sluice-state-')), 'state');
    const config = configFolder({ 'iris.yaml': demoService('iris', { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }) });
    let s = await serve(['--config', config, '--state-dir', stateDir]);
    let token: string;
    try {
      await ready(s.admin);
      const file = join(stateDir, 'admin-token');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(stateDir).mode & 0o777).toBe(0o700);
      token = readFileSync(file, 'utf8').trim();
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const server = `http://127.0.0.1:${s.admin}`;
      // --state-dir, or SLUICE_STATE_DIR: no token typed.
      const byFlag = await sluice(['get', 'isvc', '--server', server, '--state-dir', stateDir], cleanEnv());
      expect(byFlag).toMatchObject({ code: 0, stderr: '' });
      expect(byFlag.stdout).toMatch(/^NAME\s+URL[^\n]*\niris\s+http:\/\/iris\.default\.example\.com/);
      const byEnv = await sluice(['get', 'isvc', 'iris', '-o', 'json', '--server', server], cleanEnv({ SLUICE_STATE_DIR: stateDir }));
      expect(byEnv.code).toBe(0);
      expect(JSON.parse(byEnv.stdout).metadata.name).toBe('iris');
      // Elsewhere (no token file in ./.sluice of the CLI's working directory): 401, and how to supply the token.
      const lost = await sluice(['get', 'isvc', '--server', server], cleanEnv());
      expect(lost.code).toBe(1);
      expect(lost.stderr).toMatch(/^error: the admin API needs a token: send "Authorization: Bearer <token>" \(HTTP 401 from [^)]+\): no token was found \(no file [^)]*admin-token\); pass --token or set SLUICE_TOKEN, use a context of the CLI config \(~\/\.sluice\/config\), or run the CLI where it finds the token file of `sluice serve` \(--state-dir or SLUICE_STATE_DIR, default \.\/\.sluice\)\n$/);
      expect(s.stderr()).not.toContain(token);
    } finally {
      await s.stop();
    }
    s = await serve(['--config', config, '--state-dir', stateDir]);
    try {
      await ready(s.admin);
      expect(readFileSync(join(stateDir, 'admin-token'), 'utf8').trim()).toBe(token);
      const again = await sluice(['get', 'isvc', '--server', `http://127.0.0.1:${s.admin}`, '--state-dir', stateDir], cleanEnv());
      expect(again.code).toBe(0);
    } finally {
      await s.stop();
    }
  });
});
