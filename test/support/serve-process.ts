/**
 * `sluice serve` as a child process on free ports (it logs the ports it bound in its "sluice is serving" line),
 * with its own state directory, and one helper for every admin API call the tests make.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SLUICE_ROOT } from './paths.js';

export interface ServeProcess {
  child: ChildProcess;
  adminUrl: string;
  dataUrl: string;
  metricsUrl: string;
  /** Its state directory, and the admin token it generated there. */
  stateDir: string;
  token: string;
  /** Every line the process printed (stdout and stderr). */
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `sluice serve --state-dir <stateDir>` (plus `args`) and waits until it serves. */
export async function startServe(stateDir: string, args: readonly string[] = [], timeoutMs = 30_000): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [join(SLUICE_ROOT, 'dist', 'cli', 'main.js'), 'serve', '--state-dir', stateDir, '--data-host', '127.0.0.1', '--data-port', '0', '--admin-port', '0',
      '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log-level', 'info', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const serving = new Promise<{ data: number; admin: number; metrics: number }>((resolve, reject) => {
    const onData = (c: Buffer): void => {
      out += c.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"sluice is serving"')) continue;
        const l = JSON.parse(line) as { data: number; admin: number; metrics: number };
        resolve(l);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    void exited.then((code) => reject(new Error(`sluice serve exited (${code}) before serving:\n${out}`)));
    setTimeout(() => reject(new Error(`sluice serve did not serve within ${timeoutMs} ms:\n${out}`)), timeoutMs).unref();
  });
  try {
    const p = await serving;
    return {
      child,
      adminUrl: `http://127.0.0.1:${p.admin}`,
      dataUrl: `http://127.0.0.1:${p.data}`,
      metricsUrl: `http://127.0.0.1:${p.metrics}`,
      stateDir,
      token: readFileSync(join(stateDir, 'admin-token'), 'utf8').trim(),
      output: () => out,
      exited,
    };
  } catch (err) {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  }
}

export interface AdminAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Every admin API call of the tests goes through here (one place to add credentials). */
export async function admin(s: Pick<ServeProcess, 'adminUrl' | 'token'>, method: string, path: string, body?: unknown): Promise<AdminAnswer> {
  const res = await fetch(`${s.adminUrl}/apis/serving.kserve.io/v1beta1/namespaces/${path}`, {
    method,
    headers: { authorization: `Bearer ${s.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
