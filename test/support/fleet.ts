/**
 * A fleet of cluster roles as real processes over one Redis and the in-process test API server (whose kubelet
 * runs demo-runtime pods as processes): the pieces test/e2e/fleet.test.ts kills and restarts under load, and the
 * client that spreads load across the gateways. Reusable by other fleet scenarios (e.g. killing the controller
 * leader mid-rollout: `fleet.roles` holds the controllers; `killRole()` SIGKILLs one, `startRole()` brings one up).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { findFreePort } from '../../deploy/backends/local/free-port.js';
import type { KubeObject, RunningPod } from '../kube-apiserver/index.js';
import type { RoleProcessSpec } from './cluster-role-main.js';
import { demoContainer, spawnDemoPod, stopDemoPod } from './demo-pod.js';
import { SLUICE_ROOT } from './paths.js';

export const ROLE_MAIN = join(SLUICE_ROOT, 'dist', 'test', 'support', 'cluster-role-main.js');
/** Output kept per role process (the tail is what a failure message shows). */
const MAX_OUTPUT_CHARS = 200_000;

export interface RoleProcess {
  readonly spec: RoleProcessSpec;
  readonly child: ChildProcess;
  readonly adminUrl: string;
  readonly metricsUrl: string;
  readonly dataUrl?: string;
  /** The last MAX_OUTPUT_CHARS of its stderr (JSON log lines) and stdout. */
  output(): string;
  readonly exited: Promise<void>;
  /** SIGTERM (a clean stop) and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL (no clean-up at all) and wait for the exit. */
  kill(): Promise<void>;
}

/** Starts one role process and waits for its `role ready` line. */
export async function startRoleProcess(spec: RoleProcessSpec, timeoutMs = 60_000): Promise<RoleProcess> {
  const child = spawn(process.execPath, [ROLE_MAIN, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (c: Buffer): void => {
    out += c.toString();
    if (out.length > MAX_OUTPUT_CHARS) out = out.slice(-MAX_OUTPUT_CHARS);
  };
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<{ adminUrl: string; metricsUrl: string; dataUrl?: string }>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${spec.role} ${spec.identity} not ready within ${timeoutMs} ms:\n${out.slice(-4000)}`)), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      keep(c);
      buf += c.toString();
      for (const line of buf.split('\n')) {
        if (!line.includes('"role ready"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as { adminUrl: string; metricsUrl: string; dataUrl?: string });
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${spec.role} ${spec.identity} exited before it was ready (code ${child.exitCode}):\n${out.slice(-4000)}`));
    });
  });
  const signal = async (sig: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    await exited;
  };
  return { spec, child, ...ready, output: () => out, exited, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}

/** One demo-runtime pod process; its stats are read once more as it stops. */
export interface DemoPod {
  name: string;
  url: string;
  /** The most predictions it handled at once (from /demo/stats; the last reading once it has stopped). */
  peak(): Promise<number>;
  /** Its predictions now (running or waiting for a slot) and its peak so far; null once it has stopped. */
  now(): Promise<{ predicting: number; peak: number } | null>;
}

/**
 * The kubelet's pod runner: each pod is the real demo runtime as a local process with the pod's container env.
 * Every pod ever started is kept in `pods` (the test reads their peak concurrency, stopped ones included).
 */
export function demoPodRunner(pods: DemoPod[]): (pod: KubeObject) => Promise<RunningPod> {
  return async (pod) => {
    const { child, port } = await spawnDemoPod(demoContainer(pod));
    const url = `http://127.0.0.1:${port}`;
    let last = 0;
    let stopped = false;
    const now = async (): Promise<{ predicting: number; peak: number } | null> => {
      if (stopped) return null;
      try {
        const s = (await (await fetch(`${url}/demo/stats`)).json()) as { concurrent: number; maxConcurrent: number };
        return { predicting: s.concurrent, peak: s.maxConcurrent };
      } catch {
        return null;
      }
    };
    const read = async (): Promise<number> => {
      try {
        last = ((await (await fetch(`${url}/demo/stats`)).json()) as { maxConcurrent: number }).maxConcurrent;
      } catch {
        // stopped: the last reading stands
      }
      return last;
    };
    pods.push({ name: String((pod.metadata as { name?: string }).name), url, peak: read, now });
    return {
      ip: '127.0.0.1',
      port,
      async stop() {
        await read();
        stopped = true;
        await stopDemoPod(child);
      },
    };
  };
}

/** One request the load client sent. */
export interface LoadRecord {
  gateway: string;
  /** ms since the client started. */
  start: number;
  end: number;
  /** HTTP status, or 0 for a request that got no answer (connection refused or reset). */
  status: number;
  error?: string;
}

/**
 * Closed-loop load spread across gateways: `concurrency` loops, each sending one request at a time to the next
 * live gateway in turn (as a load balancer with health checks would: a gateway taken out of `live` gets no new
 * requests). Records are bounded (`maxRecords`; beyond it the client stops sending and says so).
 */
export class FleetLoad {
  readonly records: LoadRecord[] = [];
  readonly t0 = Date.now();
  private readonly live = new Map<string, string>();
  private next = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  overflowed = false;

  constructor(
    private readonly o: { path: string; body: string; concurrency: number; maxRecords?: number },
    gateways: ReadonlyArray<{ name: string; dataUrl: string }>,
  ) {
    for (const g of gateways) this.live.set(g.name, g.dataUrl);
  }

  now(): number {
    return Date.now() - this.t0;
  }

  /** Stops sending new requests to a gateway (before it is killed). */
  remove(name: string): void {
    this.live.delete(name);
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.o.concurrency }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  private async loop(): Promise<void> {
    const max = this.o.maxRecords ?? 200_000;
    while (this.running) {
      if (this.records.length >= max) {
        this.overflowed = true;
        return;
      }
      const names = [...this.live.keys()];
      if (names.length === 0) return;
      const gateway = names[this.next++ % names.length]!;
      const rec: LoadRecord = { gateway, start: this.now(), end: 0, status: 0 };
      try {
        const res = await fetch(`${this.live.get(gateway)}${this.o.path}`, { method: 'POST', body: this.o.body, headers: { 'content-type': 'application/json' } });
        const text = await res.text();
        rec.status = res.status;
        if (res.status !== 200) rec.error = text.slice(0, 300);
      } catch (err) {
        rec.error = String((err as { cause?: unknown }).cause ?? err);
      }
      rec.end = this.now();
      this.records.push(rec);
    }
  }
}

/** A free loopback port (for a role that must come back on the same address). */
export function freePort(): Promise<number> {
  return findFreePort('127.0.0.1');
}
