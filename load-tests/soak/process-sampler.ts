/**
 * Once a second, what the soak watches in the sluice process: its RSS and open descriptors (from /proc, the
 * process alone, not its replica children), and from its /metrics the event-loop delay (prom-client's
 * monitorEventLoopDelay histogram, which is reset at every scrape, so each reading covers the second
 * since the previous one), heap in use, and the in-flight gauges. The scrape's own wall time is kept too: a
 * view of the loop from outside. On request (requestGc) a tick also has the process run a full garbage
 * collection through its inspector and reads its heap and RSS right after: what it really keeps.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { InspectorGc } from './inspector-gc.js';
import { sumOfSeries } from './metrics-text.js';

export interface SoakSample {
  /** ms since the epoch */
  at: number;
  alive: boolean;
  rssBytes: number;
  fds: number;
  /** event-loop delay over the last second, ms (prom-client samples every 10 ms, so an idle loop reads ≈10) */
  lagP99Ms: number;
  lagMaxMs: number;
  heapUsedBytes: number;
  /** wall time of GET /metrics from this process, ms */
  scrapeMs: number;
  gatewayInflight: number;
  held: number;
  replicaInflight: number;
  readyReplicas: number;
  /** set when this tick forced a full collection (after its other readings) */
  afterGc?: { heapUsedBytes: number; rssBytes: number; pauseMs: number };
  /** the previous tick forced a collection, so this reading's event-loop delay includes its pause */
  coversForcedGc: boolean;
}

export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Open descriptors of this one process (not its children). */
export function fdsOf(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

export class ProcessSampler {
  readonly samples: SoakSample[] = [];
  private readonly pool: Pool;
  private running: Promise<void> | null = null;
  private stopped = false;
  private gcWanted = false;
  private gcDone = false;

  constructor(
    private readonly pid: number,
    metricsUrl: string,
    private readonly alive: () => boolean,
    private readonly gc: InspectorGc | null = null,
    private readonly everyMs = 1_000,
  ) {
    this.pool = new Pool(metricsUrl, { connections: 1, headersTimeout: 5_000, bodyTimeout: 5_000 });
  }

  /** The next tick also forces a full collection (no-op without an inspector). */
  requestGc(): void {
    this.gcWanted = this.gc !== null;
  }

  /** One reading now (and the forced collection, when one was requested). */
  async sample(): Promise<SoakSample> {
    const at = Date.now();
    const alive = this.alive();
    let text = '';
    const t0 = performance.now();
    if (alive) {
      try {
        const res = await this.pool.request({ path: '/metrics', method: 'GET' });
        text = await res.body.text();
      } catch {
        text = '';
      }
    }
    const scrapeMs = text ? performance.now() - t0 : Number.NaN;
    const metric = (name: string, scale = 1): number => (sumOfSeries(text, name) ?? Number.NaN) * scale;
    // a gauge with no series yet (nothing was ever held) reads 0 once the scrape worked
    const gauge = (name: string): number => (text ? (sumOfSeries(text, name) ?? 0) : Number.NaN);
    const rssBytes = alive ? rssOf(this.pid) : Number.NaN;
    const fds = alive ? fdsOf(this.pid) : Number.NaN;
    const coversForcedGc = this.gcDone;
    this.gcDone = false;
    let afterGc: SoakSample['afterGc'];
    if (this.gcWanted && this.gc && alive) {
      this.gcWanted = false;
      try {
        const gc = await this.gc.collect();
        afterGc = { ...gc, rssBytes: rssOf(this.pid) };
        this.gcDone = true;
      } catch {
        afterGc = undefined;
      }
    }
    return {
      at,
      alive,
      rssBytes,
      fds,
      lagP99Ms: metric('nodejs_eventloop_lag_p99_seconds', 1000),
      lagMaxMs: metric('nodejs_eventloop_lag_max_seconds', 1000),
      heapUsedBytes: metric('nodejs_heap_size_used_bytes'),
      scrapeMs,
      gatewayInflight: gauge('sluice_inflight_requests'),
      held: gauge('sluice_activator_held_requests'),
      replicaInflight: gauge('sluice_replica_inflight'),
      readyReplicas: gauge('sluice_ready_replicas'),
      ...(afterGc ? { afterGc } : {}),
      coversForcedGc,
    };
  }

  /** Samples every `everyMs` (on a fixed schedule, skipping a beat when a reading overran) until stop(). */
  start(): void {
    if (this.running) return;
    this.running = (async () => {
      const origin = Date.now();
      let k = 0;
      while (!this.stopped) {
        this.samples.push(await this.sample());
        k = Math.max(k + 1, Math.ceil((Date.now() - origin) / this.everyMs));
        const wait = origin + k * this.everyMs - Date.now();
        if (wait > 0) await sleep(wait);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await this.pool.close().catch(() => undefined);
    this.gc?.close();
  }
}
