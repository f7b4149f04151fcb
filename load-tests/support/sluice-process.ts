/**
 * Runs `sluice serve` as a child process (so its memory is its own) on free loopback ports, and collects its
 * JSON log lines (the local backend forwards each replica's own log lines too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SLUICE_ROOT } from '../../test/support/paths.js';
import type { ChildRegistry } from '../harness/child-process.js';
import { SLUICE_NODE_FLAGS } from './node-flags.js';

export interface LogLine {
  time: number;
  msg: string;
  [k: string]: unknown;
}

export interface SluiceProcess {
  child: ChildProcess;
  pid: number;
  dataUrl: string;
  /** the admin API (`sluice get|promote|…` talk to it), on loopback */
  adminUrl: string;
  /** headers an admin API request needs: the bearer token `sluice serve` made in its state directory */
  adminHeaders: Record<string, string>;
  metricsUrl: string;
  logs: LogLine[];
  /** Resident set size of the sluice process now, in bytes (from /proc). */
  rss(): number;
  /** A gauge/counter value from /metrics (first series whose line starts with `prefix`). */
  metric(prefix: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export interface SluiceProcessOptions {
  /** The harness's registry, so an interrupted run still stops this sluice (and with it its replicas). */
  children?: ChildRegistry;
  /** Node flags before the script, after Sluice's own (e.g. `--inspect=127.0.0.1:<port>`). */
  nodeArgs?: readonly string[];
  /** More `--set name=value` settings for `sluice serve`. */
  settings?: readonly string[];
  /**
   * `--workers` (default 1). The scenarios' baselines are of one process, and some read this process itself
   * (`rss()` of held requests, `--inspect`); `sluice serve` alone defaults to one worker per core.
   */
  workers?: number;
}

export async function startSluiceProcess(configDir: string, options: SluiceProcessOptions = {}): Promise<SluiceProcess> {
  const child = spawn(
    process.execPath,
    [...SLUICE_NODE_FLAGS, ...(options.nodeArgs ?? []), join(SLUICE_ROOT, 'dist', 'cli', 'main.js'), 'serve', '--config', configDir, '--no-watch',
      '--data-host', '127.0.0.1', '--data-port', '0', '--admin-port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--log-level', 'info', '--log-format', 'json',
      // The load generator is one client with thousands of connections by design.
      '--set', 'maxConnectionsPerClient=0',
      ...(options.settings ?? []).flatMap((kv) => ['--set', kv]),
      '--workers', String(options.workers ?? 1),
      // A fresh state directory each time: every run starts from nothing, and never touches ./.sluice.
      '--state-dir', mkdtempSync(join(tmpdir(), 'sluice-state-'))],
    { cwd: SLUICE_ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  options.children?.track(child);
  const logs: LogLine[] = [];
  let buf = '';
  // SLUICE_BENCH_STDOUT=<file>: a copy of everything Sluice writes to stdout, e.g. what `--trace-gc` prints
  // (which is not JSON, so `logs` drops it).
  const copy = process.env['SLUICE_BENCH_STDOUT'] ? createWriteStream(process.env['SLUICE_BENCH_STDOUT'], { flags: 'a' }) : null;
  if (copy) child.once('exit', () => copy.end());
  child.stdout!.on('data', (c: Buffer) => {
    copy?.write(c);
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const p of parts) {
      try {
        logs.push(JSON.parse(p) as LogLine);
      } catch {
        // not JSON
      }
    }
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 30_000;
  let serving: LogLine | undefined;
  while (!(serving = logs.find((l) => l.msg === 'sluice is serving'))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      // SIGTERM, not SIGKILL: sluice then stops the replicas it may have started
      if (child.exitCode === null) child.kill('SIGTERM');
      throw new Error('sluice serve did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const dataUrl = `http://127.0.0.1:${serving['data'] as number}`;
  // The serving line names the token's file (never the token).
  const adminToken = readFileSync(serving['adminToken'] as string, 'utf8').trim();
  const metricsUrl = `http://127.0.0.1:${serving['metrics'] as number}`;
  return {
    child,
    pid: child.pid!,
    dataUrl,
    adminUrl: `http://127.0.0.1:${serving['admin'] as number}`,
    adminHeaders: { authorization: `Bearer ${adminToken}` },
    metricsUrl,
    logs,
    rss: () => {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : NaN;
    },
    metric: async (prefix: string) => {
      const text = await (await fetch(`${metricsUrl}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(prefix));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    },
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
