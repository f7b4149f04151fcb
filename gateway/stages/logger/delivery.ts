/**
 * Delivery of log events, off the request path. One bounded queue (events and bytes, counted from enqueue until the
 * delivery ends, so in-flight events count too) shared by every sink; each sink drains its own line with up to its
 * own concurrency, so a hung sink holds only its own slots. A full queue drops the new event (never waits);
 * each attempt has a timeout; network errors, 408, 429 and 5xx are tried again with exponential backoff and
 * jitter, up to `attempts`; any 2xx is success. `close` drains within a deadline, then drops what is left.
 * Every outcome is counted in `sluice_logger_events_total{outcome}`.
 */
import type { Clock, TimerHandle } from '../../../core/clock.js';
import type { Logger } from '../../../core/log.js';
import type { SluiceMetrics } from '../../../core/metrics.js';
import type { CounterChild, GaugeChild } from '../../../core/metric-families.js';
import { eventBytes, type LogEvent } from './event.js';
import { createSink, type SendResult, type Sink, type SinkOptions } from './sinks.js';

export interface DeliveryOptions {
  clock: Clock;
  logger: Logger;
  metrics: SluiceMetrics;
  /** Events queued or in flight, at most. */
  queueEvents: number;
  /** Bytes of the events queued or in flight, at most. */
  queueBytes: number;
  /** Time one attempt may take (connect, send, answer). */
  timeoutMs: number;
  /** Attempts per event, the first included. */
  attempts: number;
  /** Backoff before the second attempt; doubled each time after, with ±50 % jitter. */
  backoffMs: number;
  /** Keep-alive connections (deliveries at once) per HTTP sink. */
  connectionsPerSink: number;
  /** Rotation size of a JSON-lines file sink. */
  fileMaxBytes: number;
  /** Sinks kept (distinct URLs); an idle one is closed for a new one past this. */
  maxSinks?: number;
  /** Makes a sink (tests). */
  createSink?: (url: string, o: SinkOptions) => Sink;
}

/** A sink and its own line of events. */
class SinkLine {
  readonly items: LogEvent[] = [];
  head = 0;
  inflight = 0;
  readonly aborts = new Set<AbortController>();

  constructor(
    readonly url: string,
    readonly sink: Sink,
  ) {}

  get waiting(): number {
    return this.items.length - this.head;
  }

  shift(): LogEvent {
    const ev = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as LogEvent;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return ev;
  }
}

export class EventDelivery {
  private readonly lines = new Map<string, SinkLine>();
  private events = 0;
  private bytes = 0;
  private closing = false;
  private idle: (() => void) | null = null;
  private readonly sent: CounterChild;
  private readonly retried: CounterChild;
  private readonly dropped: CounterChild;
  private readonly failed: CounterChild;
  private readonly depth: GaugeChild;
  private readonly depthBytes: GaugeChild;
  private readonly sinkOptions: SinkOptions;
  private readonly maxSinks: number;
  /** Deliveries waiting out a backoff: their timers and how to wake them (on shutdown). */
  private readonly sleepers = new Map<TimerHandle, () => void>();
  /** The shutdown grace is over: what is still queued or in flight is dropped. */
  private graceOver = false;
  /** The last failure logged per sink, so an outage logs once per sink, not once per event. */
  private readonly warned = new Set<string>();

  constructor(private readonly o: DeliveryOptions) {
    const m = o.metrics.loggerEventsTotal;
    this.sent = m.labels({ outcome: 'sent' });
    this.retried = m.labels({ outcome: 'retried' });
    this.dropped = m.labels({ outcome: 'dropped' });
    this.failed = m.labels({ outcome: 'failed' });
    this.depth = o.metrics.loggerQueueEvents.labels({} as Record<never, string>);
    this.depthBytes = o.metrics.loggerQueueBytes.labels({} as Record<never, string>);
    this.sinkOptions = {
      connections: o.connectionsPerSink,
      backstopTimeoutMs: o.timeoutMs * 2 + 1_000,
      fileMaxBytes: o.fileMaxBytes,
    };
    this.maxSinks = o.maxSinks ?? 1_000;
  }

  /** Events queued or in flight now. */
  get queued(): number {
    return this.events;
  }

  /** Takes an event for delivery, or drops it (counted) when the queue is full or closing. Never blocks. */
  enqueue(ev: LogEvent): boolean {
    const size = eventBytes(ev);
    if (this.closing || this.events >= this.o.queueEvents || this.bytes + size > this.o.queueBytes) {
      this.dropped.inc();
      return false;
    }
    const line = this.line(ev.sink);
    if (line === null) {
      this.dropped.inc();
      return false;
    }
    this.events++;
    this.bytes += size;
    this.depth.set(this.events);
    this.depthBytes.set(this.bytes);
    line.items.push(ev);
    this.pump(line);
    return true;
  }

  /**
   * Stops taking events and delivers what is queued, within `graceMs`; then aborts what is in flight and drops
   * the rest (counted). Closes every sink.
   */
  async close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.events > 0 && graceMs > 0) await this.untilIdle(graceMs, true);
    this.graceOver = true;
    let left = 0;
    for (const line of this.lines.values()) {
      left += line.waiting;
      line.items.length = 0;
      line.head = 0;
      for (const a of line.aborts) a.abort();
    }
    for (const [t, wake] of this.sleepers) {
      this.o.clock.clearTimeout(t);
      wake();
    }
    this.sleepers.clear();
    if (this.events > 0) this.o.logger.warn({ queued: left, inflight: this.events - left }, 'log events not delivered before the shutdown grace ended; dropped');
    if (left > 0) {
      this.dropped.inc(left);
      this.release(left, 0);
    }
    // Aborted attempts come back at once (each counts itself dropped); a file write in progress finishes.
    if (this.events > 0) await this.untilIdle(1_000, false);
    await Promise.all([...this.lines.values()].map((l) => l.sink.close()));
    this.lines.clear();
  }

  /**
   * Resolves when nothing is queued or in flight, or after `ms`: on the injected clock for the shutdown grace (a
   * policy), on Node's timer for the short wait for aborted attempts to come back (a safety net).
   */
  private untilIdle(ms: number, onClock: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.idle = null;
        resolve();
      };
      if (onClock) {
        const timer = this.o.clock.setTimeout(done, ms);
        this.idle = () => {
          this.o.clock.clearTimeout(timer);
          done();
        };
      } else {
        const timer = setTimeout(done, ms);
        timer.unref();
        this.idle = () => {
          clearTimeout(timer);
          done();
        };
      }
    });
  }

  private line(url: string): SinkLine | null {
    let line = this.lines.get(url);
    if (line) return line;
    if (this.lines.size >= this.maxSinks) {
      // Make room by closing an idle sink (the oldest first); none idle: this event has nowhere to wait.
      for (const [k, l] of this.lines) {
        if (l.inflight === 0 && l.waiting === 0) {
          this.lines.delete(k);
          void l.sink.close();
          break;
        }
      }
      if (this.lines.size >= this.maxSinks) return null;
    }
    line = new SinkLine(url, (this.o.createSink ?? createSink)(url, this.sinkOptions));
    this.lines.set(url, line);
    return line;
  }

  private pump(line: SinkLine): void {
    while (line.inflight < line.sink.concurrency && line.waiting > 0) {
      line.inflight++;
      void this.deliver(line, line.shift());
    }
  }

  private async deliver(line: SinkLine, ev: LogEvent): Promise<void> {
    const size = eventBytes(ev);
    try {
      for (let attempt = 1; ; attempt++) {
        const abort = new AbortController();
        line.aborts.add(abort);
        const timer = this.o.clock.setTimeout(() => abort.abort(), this.o.timeoutMs);
        const r: SendResult = await line.sink.send(ev, abort.signal).catch((err: unknown) => ({ ok: false, retryable: true, reason: String(err) }));
        this.o.clock.clearTimeout(timer);
        line.aborts.delete(abort);
        if (r.ok) {
          this.sent.inc();
          this.warned.delete(line.url);
          return;
        }
        if (this.graceOver) {
          this.dropped.inc();
          return;
        }
        const reason = abort.signal.aborted ? `no answer within ${this.o.timeoutMs} ms` : r.reason;
        if (r.retryable && attempt < this.o.attempts) {
          if (this.closing) {
            // Shutting down: the grace is better spent on events not tried yet than on a backoff.
            this.dropped.inc();
            return;
          }
          this.retried.inc();
          await this.sleep(this.backoff(attempt));
          if (this.graceOver) {
            this.dropped.inc();
            return;
          }
          continue;
        }
        this.failed.inc();
        if (!this.warned.has(line.url)) {
          this.warned.add(line.url);
          this.o.logger.warn({ sink: redact(line.url), reason, attempts: attempt }, 'log event not delivered (further failures of this sink are only counted until one succeeds)');
        }
        return;
      }
    } finally {
      line.inflight--;
      this.release(1, size);
      this.pump(line);
    }
  }

  private release(events: number, bytes: number): void {
    this.events -= events;
    this.bytes -= bytes;
    if (this.bytes < 0) this.bytes = 0;
    this.depth.set(this.events);
    this.depthBytes.set(this.bytes);
    if (this.events <= 0 && this.idle) this.idle();
  }

  private backoff(attempt: number): number {
    const base = this.o.backoffMs * 2 ** (attempt - 1);
    return Math.round(base * (0.5 + Math.random()));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = this.o.clock.setTimeout(() => {
        this.sleepers.delete(t);
        resolve();
      }, ms);
      this.sleepers.set(t, resolve);
    });
  }
}

/** A sink URL for a log line: without credentials or query. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparsable)';
  }
}
