/**
 * A cluster role (`controller`, `autoscaler` or `gateway`) as a real process, so a test can SIGKILL it — a crash,
 * with no Lease given up and no last status write — and see what the rest of the fleet makes of it.
 *
 * As a script (`node dist/test/support/cluster-role-process.js '<json>'`): starts the role with the options in
 * the JSON argument, prints one `{"started": …}` line with its URLs, and runs until killed (SIGTERM: clean stop).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SLUICE_ROOT } from './paths.js';

export interface RoleProcessOptions {
  role: 'controller' | 'autoscaler' | 'gateway';
  identity: string;
  kubeconfig: string;
  redisUrl: string;
  group: string;
  runtimes?: string[];
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** Settings (core/config.ts); ports default to 0 and logging to silent. */
  config?: Record<string, unknown>;
}

export interface RoleProcess {
  pid: number;
  adminUrl: string;
  dataUrl?: string;
  /** SIGKILL: the process dies where it stands. */
  kill(): Promise<void>;
  /** SIGTERM: a clean stop (gives the Lease up). */
  stop(): Promise<void>;
}

const SELF = fileURLToPath(import.meta.url);
/** The built script (tests import this file's source; the child runs what `npm run build` made of it). */
const SCRIPT = join(SLUICE_ROOT, 'dist', 'test', 'support', 'cluster-role-process.js');

export async function startRoleProcess(o: RoleProcessOptions): Promise<RoleProcess> {
  const child: ChildProcess = spawn(process.execPath, [SCRIPT, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = await new Promise<{ adminUrl: string; dataUrl?: string }>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) if (line.startsWith('{"started"')) resolve((JSON.parse(line) as { started: { adminUrl: string; dataUrl?: string } }).started);
    });
    child.once('exit', (code, signal) => reject(new Error(`the ${o.role} process ${o.identity} exited before it started (${code ?? signal})`)));
  });
  child.stdout!.resume();
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  };
  return { pid: child.pid!, ...started, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

async function main(json: string): Promise<void> {
  const o = JSON.parse(json) as RoleProcessOptions;
  const { resolveServeConfig } = await import('../../core/config.js');
  const { silentLogger } = await import('../../core/log.js');
  const cluster = await import('../../cli/cluster.js');
  const config = resolveServeConfig({ dataHost: '127.0.0.1', dataPort: 0, adminPort: 0, metricsHost: '127.0.0.1', metricsPort: 0, logLevel: 'silent', ...(o.config ?? {}) });
  const start = { controller: cluster.startClusterController, autoscaler: cluster.startClusterAutoscaler, gateway: cluster.startClusterGateway }[o.role];
  const running = await start({
    config,
    kubeconfig: o.kubeconfig,
    group: o.group,
    redisUrl: o.redisUrl,
    identity: o.identity,
    runtimes: o.runtimes,
    leaseDurationMs: o.leaseDurationMs,
    retryPeriodMs: o.retryPeriodMs,
    logger: silentLogger(),
  });
  process.stdout.write(`${JSON.stringify({ started: { adminUrl: running.adminUrl, dataUrl: running.dataUrl } })}\n`);
  process.once('SIGTERM', () => void running.close().then(() => process.exit(0), () => process.exit(1)));
}

if (process.argv[1] === SELF) void main(process.argv[2] ?? '{}').catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
