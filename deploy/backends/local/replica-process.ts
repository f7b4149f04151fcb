/**
 * One replica: a child process on a loopback port, its readiness probe, and its stop (SIGTERM, then
 * SIGKILL after a grace period). It reports to its owner through callbacks and never restarts itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { Clock, TimerHandle } from '../../../core/clock.js';
import type { BackendLogger } from './backend-logger.js';
import type { LaunchCommand } from './launch-template.js';
import { forwardLines } from './output-lines.js';
import { ReadinessSchedule } from './readiness-schedule.js';

export interface ReplicaExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  spawnError: string | null;
  /** The child printed EADDRINUSE before it became ready: the port was taken in a race. */
  portInUse: boolean;
}

export interface ReplicaCallbacks {
  onReady(): void;
  onStartupTimeout(): void;
  onExit(exit: ReplicaExit): void;
}

export interface ReplicaProcessOptions {
  id: string;
  host: string;
  port: number;
  launch: LaunchCommand;
  /** Readiness probe period while no request waits for the revision. */
  probeIntervalMs: number;
  /** Shortest probe period: while requests wait, and the least gap before a probe the replica's output asks for. */
  probeFastIntervalMs: number;
  probeTimeoutMs: number;
  /** Whether requests are waiting for this replica's revision now (probes run faster then). */
  waiting?: () => boolean;
  /** The readiness check; default a GET of the readiness path, 2xx = ready. */
  probe?: ProbeFn;
  startupTimeoutMs: number;
  clock: Clock;
  logger: BackendLogger;
}

export function describeExit(exit: ReplicaExit): string {
  if (exit.spawnError) return `could not start: ${exit.spawnError}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${exit.code}`;
}

/** Resolves true when the replica at `url` is ready; never rejects. */
export type ProbeFn = (url: string, timeoutMs: number) => Promise<boolean>;

/** GET url; resolves true on 2xx within timeoutMs. */
export const httpReadinessProbe: ProbeFn = (url, timeoutMs) =>
  new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });

export class ReplicaProcess {
  readonly id: string;
  readonly url: string;
  private child: ChildProcess | null = null;
  private probeTimer: TimerHandle | null = null;
  /** When the planned probe is due (null: none planned, or one is in flight). */
  private probeDueAt: number | null = null;
  private schedule: ReadinessSchedule | null = null;
  private startupTimer: TimerHandle | null = null;
  private killTimer: TimerHandle | null = null;
  private ready = false;
  private stopping = false;
  private exitInfo: ReplicaExit | null = null;
  private portInUse = false;
  private lastStderr: string | null = null;
  private readonly exitWaiters: Array<(e: ReplicaExit) => void> = [];

  constructor(
    private readonly opts: ReplicaProcessOptions,
    private readonly callbacks: ReplicaCallbacks,
  ) {
    this.id = opts.id;
    this.url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get argv(): string[] {
    return [this.opts.launch.command, ...this.opts.launch.args];
  }

  /** Path the readiness probe asks (rendered from the launch recipe). */
  get readinessPath(): string {
    return this.opts.launch.readinessPath;
  }

  get exited(): boolean {
    return this.exitInfo !== null;
  }

  /** The last line the child wrote to stderr (cut to 200 characters), e.g. why it could not start. */
  get lastErrorLine(): string | null {
    return this.lastStderr;
  }

  /** Spawns the child and starts probing. stdin stays an open pipe: runtimes may watch it to notice our death. */
  start(): void {
    const { launch, logger, clock } = this.opts;
    // Its own process group: runtimes that fork (TorchServe's JVM and workers, MLServer's workers) are signalled
    // as a whole, so stopping or killing a replica never leaves part of it behind.
    const child = spawn(launch.command, launch.args, {
      env: launch.env,
      stdio: [launch.stdin === 'null' ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    child.stdin?.on('error', () => undefined);
    const forward = (stream: 'stdout' | 'stderr') => (line: string) => {
      if (!this.ready && line.includes('EADDRINUSE')) this.portInUse = true;
      if (stream === 'stderr' && line.trim() !== '') this.lastStderr = line.length > 200 ? `${line.slice(0, 200)}…` : line;
      if (stream === 'stderr') logger.warn({ replica: this.id, pid: child.pid, stream }, line);
      else logger.info({ replica: this.id, pid: child.pid, stream }, line);
      // Runtimes usually say so when they become ready: look now rather than at the next period.
      if (!this.ready) this.onOutput();
    };
    if (child.stdout) forwardLines(child.stdout, forward('stdout'));
    if (child.stderr) forwardLines(child.stderr, forward('stderr'));
    child.once('error', (err) => {
      // 'error' without 'exit' means the process never ran.
      if (child.pid === undefined) this.finish({ code: null, signal: null, spawnError: err.message, portInUse: false });
      else logger.warn({ replica: this.id, err: err.message }, 'replica process error');
    });
    child.once('exit', (code, signal) => {
      const finish = (): void => this.finish({ code, signal, spawnError: null, portInUse: this.portInUse });
      // A replica that dies while starting usually says why on stderr, which may still be in the pipe: read it
      // to its end first (bounded: a forked grandchild could hold the pipe open).
      const err = child.stderr;
      if (this.ready || this.stopping || !err || err.readableEnded || err.destroyed) return finish();
      const cap = setTimeout(finish, 200);
      cap.unref();
      err.once('end', () => {
        clearTimeout(cap);
        finish();
      });
    });
    this.startupTimer = clock.setTimeout(() => {
      this.startupTimer = null;
      if (!this.ready && !this.exited) this.callbacks.onStartupTimeout();
    }, this.opts.startupTimeoutMs);
    const now = clock.now();
    this.schedule = new ReadinessSchedule({ intervalMs: this.opts.probeIntervalMs, fastIntervalMs: this.opts.probeFastIntervalMs }, now);
    // The first probe goes on a timer rather than inline, so that the caller finishes with the spawn first.
    this.planProbe(now, false);
  }

  /**
   * Plans the next probe for `at` (clock time), replacing any planned one. A probe already due runs at once
   * when `inline`, else on a 0 ms timer.
   */
  private planProbe(at: number, inline = true): void {
    if (this.probeTimer) this.opts.clock.clearTimeout(this.probeTimer);
    this.probeTimer = null;
    const delay = at - this.opts.clock.now();
    if (delay <= 0 && inline) {
      this.probeDueAt = null;
      void this.runProbe();
      return;
    }
    this.probeDueAt = at;
    this.probeTimer = this.opts.clock.setTimeout(() => {
      this.probeTimer = null;
      this.probeDueAt = null;
      void this.runProbe();
    }, Math.max(0, delay));
  }

  private onOutput(): void {
    if (!this.schedule || this.ready || this.exited || this.stopping) return;
    const at = this.schedule.output(this.opts.clock.now(), this.probeDueAt);
    if (at !== null) this.planProbe(at);
  }

  private async runProbe(): Promise<void> {
    const schedule = this.schedule;
    if (!schedule || this.ready || this.exited || this.stopping) return;
    schedule.begin(this.opts.clock.now());
    const probe = this.opts.probe ?? httpReadinessProbe;
    let ok = false;
    try {
      ok = await probe(`${this.url}${this.opts.launch.readinessPath}`, this.opts.probeTimeoutMs);
    } catch {
      ok = false;
    }
    if (this.ready || this.exited || this.stopping) return;
    if (ok) {
      this.ready = true;
      this.clearStartTimers();
      this.callbacks.onReady();
      return;
    }
    this.planProbe(schedule.failed(this.opts.clock.now(), this.opts.waiting?.() ?? false));
  }

  private clearStartTimers(): void {
    if (this.probeTimer) this.opts.clock.clearTimeout(this.probeTimer);
    if (this.startupTimer) this.opts.clock.clearTimeout(this.startupTimer);
    this.probeTimer = null;
    this.probeDueAt = null;
    this.startupTimer = null;
  }

  private finish(exit: ReplicaExit): void {
    if (this.exitInfo) return;
    this.exitInfo = exit;
    this.clearStartTimers();
    if (this.killTimer) this.opts.clock.clearTimeout(this.killTimer);
    this.killTimer = null;
    this.child?.stdin?.destroy();
    this.callbacks.onExit(exit);
    for (const w of this.exitWaiters.splice(0)) w(exit);
  }

  /** SIGTERM now, SIGKILL after graceMs; resolves when the process has exited. */
  stop(graceMs: number): Promise<ReplicaExit> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    const done = new Promise<ReplicaExit>((resolve) => this.exitWaiters.push(resolve));
    this.stopping = true;
    this.clearStartTimers();
    if (this.killTimer === null) {
      this.signal('SIGTERM');
      this.killTimer = this.opts.clock.setTimeout(() => {
        this.opts.logger.warn({ replica: this.id, pid: this.pid, graceMs }, 'replica did not stop in time; SIGKILL');
        this.signal('SIGKILL');
      }, graceMs);
    }
    return done;
  }

  /** SIGKILL now; resolves when the process has exited. */
  kill(): Promise<ReplicaExit> {
    if (this.exitInfo) return Promise.resolve(this.exitInfo);
    const done = new Promise<ReplicaExit>((resolve) => this.exitWaiters.push(resolve));
    this.stopping = true;
    this.clearStartTimers();
    this.signal('SIGKILL');
    return done;
  }

  /** Synchronous last resort (process 'exit' handler). */
  killNow(): void {
    if (!this.exitInfo) this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child?.pid;
    try {
      if (pid !== undefined) process.kill(-pid, sig);
      else this.child?.kill(sig);
    } catch {
      try {
        this.child?.kill(sig);
      } catch {
        // already gone
      }
    }
  }
}
