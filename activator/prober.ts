import http from 'node:http';
import net from 'node:net';
import type { Clock, TimerHandle } from '../core/clock.js';
import type { Endpoint } from '../api/backend.js';
import type { Replica } from './replica-set.js';

/** Asks one replica whether it can take requests; resolves true when it can. Never rejects. */
export type ProbeFn = (endpoint: Endpoint, timeoutMs: number) => Promise<boolean>;

/**
 * The default probe: GET `<url><readinessPath>` on a fresh connection, 2xx = ready; a TCP connect when the
 * endpoint names no readiness path.
 */
export const httpProbe: ProbeFn = (endpoint, timeoutMs) =>
  new Promise((resolve) => {
    if (endpoint.readinessPath === undefined) {
      const u = new URL(endpoint.url);
      const sock = net.connect({ host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) });
      const done = (ok: boolean): void => {
        sock.destroy();
        resolve(ok);
      };
      sock.setTimeout(timeoutMs, () => done(false));
      sock.once('connect', () => done(true));
      sock.once('error', () => done(false));
      return;
    }
    const req = http.get(`${endpoint.url}${endpoint.readinessPath}`, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });

export interface ProberOptions {
  clock: Clock;
  probe: ProbeFn;
  /** Period for replicas not in rotation (being confirmed, or failed); ~50–200 ms. */
  intervalMs: number;
  /** Period for replicas in rotation; 0 = do not probe active replicas. */
  healthIntervalMs: number;
  timeoutMs: number;
  onResult: (replica: Replica, ok: boolean) => void;
}

/**
 * Probes watched replicas on a timer: often while they are out of rotation (so one re-enters as soon as it
 * answers), less often while they serve. One probe at a time per replica; results go to `onResult`.
 */
export class Prober {
  private readonly o: ProberOptions;
  private readonly timers = new Map<Replica, TimerHandle>();
  private readonly watched = new Set<Replica>();
  private readonly running = new Set<Replica>();

  constructor(o: ProberOptions) {
    this.o = o;
  }

  /** Starts (or restarts) probing `r`, first after `delayMs`. */
  watch(r: Replica, delayMs = 0): void {
    this.watched.add(r);
    this.clearTimer(r);
    if (!this.running.has(r)) this.schedule(r, delayMs);
  }

  unwatch(r: Replica): void {
    this.watched.delete(r);
    this.clearTimer(r);
  }

  close(): void {
    for (const r of [...this.watched]) this.unwatch(r);
  }

  get size(): number {
    return this.watched.size;
  }

  private schedule(r: Replica, delayMs: number): void {
    this.timers.set(
      r,
      this.o.clock.setTimeout(() => {
        this.timers.delete(r);
        void this.run(r);
      }, delayMs),
    );
  }

  private clearTimer(r: Replica): void {
    const t = this.timers.get(r);
    if (t) this.o.clock.clearTimeout(t);
    this.timers.delete(r);
  }

  private async run(r: Replica): Promise<void> {
    if (!this.watched.has(r) || this.running.has(r)) return;
    this.running.add(r);
    let ok = false;
    try {
      ok = await this.o.probe(r.endpoint, this.o.timeoutMs);
    } catch {
      ok = false;
    }
    this.running.delete(r);
    if (!this.watched.has(r)) return;
    this.o.onResult(r, ok);
    if (!this.watched.has(r) || this.timers.has(r)) return;
    if (r.state === 'active') {
      if (this.o.healthIntervalMs > 0) this.schedule(r, this.o.healthIntervalMs);
      else this.unwatch(r);
    } else {
      this.schedule(r, this.o.intervalMs);
    }
  }
}
