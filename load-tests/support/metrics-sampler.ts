/**
 * Samples a few per-revision series from a Sluice /metrics endpoint on a fixed period while a load runs, plus
 * any client-side counters, for time-series charts. One scrape at a time (a slow scrape delays the next
 * sample instead of piling up).
 */
import { Agent, request } from 'undici';

export interface MetricSample {
  /** seconds since the sampler's origin */
  t: number;
  /** metric name → value for the revision (NaN when the series is absent) */
  values: Record<string, number>;
}

export interface MetricSamplerOptions {
  metricsUrl: string;
  /** metric names to read, e.g. sluice_activator_held_requests */
  names: readonly string[];
  /** only series with this `revision` label */
  revision: string;
  everyMs: number;
  /** wall-clock ms that t = 0 stands for */
  origin: number;
  /** client-side values added to every sample (e.g. responses completed so far) */
  client?: () => Record<string, number>;
}

export interface MetricSampler {
  /** Stops after one final sample; resolves with every sample taken, oldest first. */
  stop(): Promise<MetricSample[]>;
}

/** Values of `names` for series labelled revision="<revision>" in Prometheus text exposition. */
export function readRevisionSeries(text: string, names: readonly string[], revision: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = Number.NaN;
  const label = `revision="${revision}"`;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.includes(label)) continue;
    const brace = line.indexOf('{');
    if (brace < 0) continue;
    const name = line.slice(0, brace);
    if (!(name in out)) continue;
    out[name] = Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

export function startMetricSampler(o: MetricSamplerOptions): MetricSampler {
  const agent = new Agent({ connections: 1 });
  const samples: MetricSample[] = [];
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const scrape = async (): Promise<void> => {
    let values: Record<string, number>;
    try {
      const r = await request(`${o.metricsUrl}/metrics`, { dispatcher: agent, headersTimeout: 5_000, bodyTimeout: 5_000 });
      values = readRevisionSeries(await r.body.text(), o.names, o.revision);
    } catch {
      values = Object.fromEntries(o.names.map((n) => [n, Number.NaN]));
    }
    samples.push({ t: (Date.now() - o.origin) / 1000, values: { ...values, ...o.client?.() } });
  };
  const loop = async (): Promise<void> => {
    const started = Date.now();
    await scrape();
    if (!stopped) timer = setTimeout(() => void (running = loop()), Math.max(0, o.everyMs - (Date.now() - started)));
  };
  let running = loop();
  return {
    stop: async () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running;
      await scrape();
      await agent.close();
      return samples;
    },
  };
}
