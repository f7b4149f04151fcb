import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../../deploy/backends/local/free-port.js';
import { acceptsNow, waitUntil } from './wait.js';

/**
 * A throwaway redis-server on a free loopback port (or on `onPort`, to bring a stopped one back on its old
 * address). Fails loudly when redis-server is not installed.
 */
export async function startRedis(onPort?: number): Promise<{ url: string; port: number; stop: () => Promise<void> }> {
  const port = onPort ?? (await findFreePort('127.0.0.1'));
  const dir = mkdtempSync(join(tmpdir(), 'sluice-redis-'));
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (err) => reject(new Error(`cannot start redis-server (install it: apt-get install redis-server): ${err.message}`))),
  );
  const up = waitUntil('redis-server to accept connections', () => acceptsNow(port), 10_000, 50);
  await Promise.race([up, failed]);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
