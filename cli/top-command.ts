/** `sluice top`: refreshes cli/top.ts's view every interval until `q` or Ctrl-C; `-o json` prints one snapshot. */
import { performance } from 'node:perf_hooks';
import { adminClientFor, adminServer, type AdminTarget } from './admin-credentials.js';
import type { Io } from './commands.js';
import { countersFromMetrics, renderTop, TopHistory, type TopSample } from './top.js';

export interface TopOptions extends AdminTarget {
  namespace?: string;
  allNamespaces?: boolean;
  output?: string;
  metricsUrl?: string;
  interval?: string;
}

/** The server's /metrics when none is given: the admin API's host on the default metrics port (9090). */
export function defaultMetricsUrl(server: string): string {
  const u = new URL(server);
  return `${u.protocol}//${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:9090/metrics`;
}

export async function topCommand(io: Io, o: TopOptions): Promise<void> {
  if (o.output !== undefined && o.output !== 'json') throw new Error(`-o must be json for top, got "${o.output}"`);
  const intervalS = o.interval === undefined ? 1 : Number(o.interval);
  if (!(intervalS >= 0.2 && intervalS <= 60)) throw new Error(`--interval must be between 0.2 and 60 seconds, got "${o.interval}"`);
  const client = adminClientFor(o);
  const server = adminServer(o);
  const metricsUrl = o.metricsUrl ?? process.env.SLUICE_METRICS_URL ?? defaultMetricsUrl(server);
  const ns = o.allNamespaces ? null : (o.namespace ?? 'default');
  const history = new TopHistory();
  const sample = async (): Promise<TopSample> => {
    const [services, text] = await Promise.all([client.list(ns), scrape(metricsUrl)]);
    return { at: performance.now(), services, revisions: countersFromMetrics(text) };
  };

  if (o.output === 'json') {
    history.push(await sample());
    await sleep(intervalS * 1000);
    history.push(await sample());
    io.out(`${JSON.stringify({ server, metricsUrl, intervalSeconds: intervalS, revisions: history.rows() }, null, 2)}\n`);
    return;
  }

  const tty = process.stdout.isTTY === true;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = (): void => {
    stopped = true;
    wake?.();
  };
  const restore = (): void => {
    if (tty) process.stdout.write('\x1b[?25h\x1b[?1049l');
    if (process.stdin.isTTY) process.stdin.setRawMode(false);
    process.stdin.pause();
  };
  if (tty) process.stdout.write('\x1b[?1049h\x1b[?25l');
  if (process.stdin.isTTY) {
    process.stdin.setRawMode(true);
    process.stdin.resume();
    process.stdin.on('data', (c: Buffer) => {
      const k = c.toString();
      if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x1b') stop();
    });
  }
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    while (!stopped) {
      const started = performance.now();
      let screen: string;
      try {
        history.push(await sample());
        screen = renderTop(history.rows(), { server, time: new Date(), intervalS });
      } catch (err) {
        // Keep refreshing: a server that restarts comes back on the next tick.
        screen = `sluice top  ${server}  ${new Date().toISOString().slice(11, 19)} UTC\n\n${(err as Error).message}\n`;
      }
      io.out(tty ? `\x1b[H\x1b[2J${screen}` : `${screen}\n`);
      const left = intervalS * 1000 - (performance.now() - started);
      if (left > 0 && !stopped) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, left);
        });
      }
    }
  } finally {
    restore();
  }
}

async function scrape(url: string): Promise<string> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    throw new Error(`cannot read metrics from ${url} (${(err as Error).message}); pass --metrics-url or set SLUICE_METRICS_URL`);
  }
  if (!res.ok) throw new Error(`metrics at ${url} answered ${res.status}; pass --metrics-url or set SLUICE_METRICS_URL`);
  return res.text();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
