/**
 * A stand-in for the local backend, for the runtime conformance suite only: read a LocalLaunchRecipe YAML,
 * render it with the product's own renderer (deploy/backends/local/launch-template.ts: the same templates,
 * errors and environment as the local backend), start the process in its own process group, wait for its
 * readiness path, and end the whole group.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

import { parse } from 'yaml';

import type { LocalLaunchRecipe } from '../../api/revision.js';
import { renderLaunch, type LaunchContext } from '../../deploy/backends/local/launch-template.js';

export interface RecipeDocument {
  name: string;
  spec: LocalLaunchRecipe;
}

export function loadRecipe(path: string): RecipeDocument {
  const doc: unknown = parse(readFileSync(path, 'utf8'));
  const fail = (why: string): never => {
    throw new Error(`${path}: ${why}`);
  };
  if (typeof doc !== 'object' || doc === null) return fail('not a YAML mapping');
  const { apiVersion, kind, metadata, spec } = doc as Record<string, unknown>;
  if (apiVersion !== 'sluice.dev/v1alpha1' || kind !== 'LocalLaunchRecipe') fail('expected sluice.dev/v1alpha1 LocalLaunchRecipe');
  const name = (metadata as { name?: unknown } | undefined)?.name;
  if (typeof name !== 'string' || name === '') fail('metadata.name missing');
  const s = spec as Record<string, unknown> | undefined;
  if (!s || typeof s.command !== 'string') return fail('spec.command missing');
  if (!Array.isArray(s.args) || !s.args.every((a) => typeof a === 'string')) return fail('spec.args must be strings');
  const env = (s.env ?? {}) as Record<string, unknown>;
  if (!Object.values(env).every((v) => typeof v === 'string')) fail('spec.env values must be strings');
  if (typeof s.readinessPath !== 'string') fail('spec.readinessPath missing');
  if (typeof s.startupTimeoutSeconds !== 'number') fail('spec.startupTimeoutSeconds missing');
  return {
    name: name as string,
    spec: {
      command: s.command,
      args: s.args as string[],
      env: env as Record<string, string>,
      readinessPath: s.readinessPath as string,
      startupTimeoutSeconds: s.startupTimeoutSeconds as number,
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningReplica {
  name: string;
  port: number;
  baseUrl: string;
  logFile: string;
  child: ChildProcess;
  /** Milliseconds from spawn until the readiness path answered 200 (cold start). */
  readyAfterMs: number;
  /** SIGTERM to the process group, SIGKILL after `graceMs`. Resolves once the leader has exited. */
  stop(graceMs?: number): Promise<void>;
}

export async function launchRecipe(doc: RecipeDocument, ctx: LaunchContext, logFile: string): Promise<RunningReplica> {
  const port = ctx.port;
  const { command, args, env, readinessPath } = renderLaunch(doc.spec, {}, ctx);
  const started = Date.now();
  const log = openSync(logFile, 'a');
  const child = spawn(command, args, { env, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async (graceMs = 10_000): Promise<void> => {
    signalGroup(child, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    signalGroup(child, 'SIGKILL'); // anything the leader left behind in its group
  };
  const replica: RunningReplica = { name: doc.name, port, baseUrl: `http://127.0.0.1:${port}`, logFile, child, readyAfterMs: 0, stop };
  try {
    await waitReady(replica, readinessPath, doc.spec.startupTimeoutSeconds * 1000);
    replica.readyAfterMs = Date.now() - started;
  } catch (err) {
    await stop(2_000);
    throw err;
  }
  return replica;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is gone already
  }
}

async function waitReady(replica: RunningReplica, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (replica.child.exitCode !== null || replica.child.signalCode !== null) {
      throw new Error(`${replica.name} exited (${replica.child.exitCode ?? replica.child.signalCode}) before ready:\n${tail(replica.logFile)}`);
    }
    try {
      const res = await fetch(`${replica.baseUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${replica.name} not ready on ${path} within ${timeoutMs} ms (${last}):\n${tail(replica.logFile)}`);
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
