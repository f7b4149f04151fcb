/**
 * Metrics a user can look at: a real Prometheus (Debian's package, started here on a free port with a generated
 * config) scrapes a real `sluice serve` every second while a load with a cold start runs; its HTTP API must give
 * back what the load produced, every panel of the Grafana dashboard (deploy/grafana/sluice-dashboard.json) must
 * parse and return series, and `sluice top` in a real terminal (tmux) must show the revision live.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFreePort } from '../../deploy/backends/local/free-port.js';
import { sluiceCli } from '../support/cli.js';
import { configFolder, demoService } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';
import { waitUntil } from '../support/wait.js';

const need = (bin: string): void => {
  if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0)
    throw new Error(`${bin} is not installed: apt-get install -y ${bin} (.ci/run installs it)`);
};

const BODY = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });
const REV = 'iris-predictor-00001';

let serve: ServeProcess;
let prometheus: ChildProcess;
let promUrl: string;
const dirs: string[] = [];
let sent = 0;
let failed = 0;

async function predict(): Promise<void> {
  const res = await fetch(`${serve.dataUrl}/v1/models/iris:predict`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json' } });
  await res.arrayBuffer();
  sent += 1;
  if (res.status !== 200) failed += 1;
}

/** `workers` closed loops of predict() for `ms`. */
async function load(workers: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < until) await predict();
    }),
  );
}

interface PromSeries {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(expr: string): Promise<PromSeries[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: PromSeries[] } };
  if (body.status !== 'success') throw new Error(`Prometheus refused ${expr}: ${body.error}`);
  return body.data!.result;
}

async function scalar(expr: string): Promise<number> {
  const r = await query(expr);
  if (r.length !== 1) throw new Error(`${expr}: expected one series, got ${r.length}`);
  return Number(r[0]!.value[1]);
}

beforeAll(async () => {
  need('prometheus');
  need('tmux');
  const state = mkdtempSync(join(tmpdir(), 'sluice-obs-state-'));
  dirs.push(state);
  const config = configFolder({
    'iris.yaml': demoService('iris', {
      annotations: { 'autoscaling.knative.dev/initial-scale': '0' },
      env: { SLUICE_DEMO_STARTUP_DELAY_MS: '2500', SLUICE_DEMO_LATENCY_MS: '30' },
    }),
  });
  serve = await startServe(state, ['--config', config]);

  const promDir = mkdtempSync(join(tmpdir(), 'sluice-prometheus-'));
  dirs.push(promDir);
  const promPort = await findFreePort('127.0.0.1');
  const target = new URL(serve.metricsUrl).host;
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: sluice\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  prometheus = spawn(
    'prometheus',
    [`--config.file=${join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let promLog = '';
  prometheus.stderr!.on('data', (c: Buffer) => (promLog = (promLog + c.toString()).slice(-4000)));
  promUrl = `http://127.0.0.1:${promPort}`;
  await waitUntil(`Prometheus to be ready (its log: ${promLog})`, async () => (await fetch(`${promUrl}/-/ready`).catch(() => null))?.ok, 30_000, 200);
  await waitUntil('Prometheus to scrape sluice', async () => (await query('up{job="sluice"} == 1')).length === 1, 20_000, 250);

  // A cold start: four requests reach the revision at zero and are held while its replica starts (2.5 s).
  await Promise.all([predict(), predict(), predict(), predict()]);
  // Then a steady load, while `sluice top` runs in a real terminal (the top test reads it).
  topSession = `sluice-top-${process.pid}`;
  execFileSync('tmux', ['-L', topSession, 'new-session', '-d', '-x', '200', '-y', '30', '-s', 'top',
    `${process.execPath} ${join(SLUICE_ROOT, 'dist', 'cli', 'main.js')} top --server ${serve.adminUrl} --state-dir ${serve.stateDir} --metrics-url ${serve.metricsUrl}/metrics`]);
  topScreens = [];
  const screens = (async () => {
    const until = Date.now() + 7_000;
    while (Date.now() < until) {
      topScreens.push(execFileSync('tmux', ['-L', topSession, 'capture-pane', '-p', '-t', 'top'], { encoding: 'utf8' }));
      await new Promise((r) => setTimeout(r, 500));
    }
  })();
  await Promise.all([load(4, 8_000), screens]);
  // Two more scrapes after the load, so Prometheus holds the final counts.
  const total = sent;
  await waitUntil(`Prometheus to see all ${total} requests`, async () => (await scalar(`sum(sluice_requests_total{revision="${REV}"})`)) === total, 15_000, 250);
}, 120_000);

let topSession = '';
let topScreens: string[] = [];

afterAll(async () => {
  if (topSession) spawnSync('tmux', ['-L', topSession, 'kill-server']);
  prometheus?.kill('SIGTERM');
  serve?.child.kill('SIGTERM');
  await serve?.exited;
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a real Prometheus scraping sluice serve', () => {
  it('gives back the request count and rate, p50 from the histogram, replicas, held requests and the cold start', async () => {
    expect(failed).toBe(0);
    expect(await scalar(`sum(sluice_requests_total{revision="${REV}",code="200"})`)).toBe(sent);
    // requests/s over the load's window: 4 closed loops against a 30 ms replica
    const rps = await scalar(`sum(rate(sluice_requests_total{revision="${REV}"}[10s] offset 2s))`);
    expect(rps).toBeGreaterThan(10);
    // The replica answers in 30 ms (+ the gateway): the median lands in the 25-50 ms bucket.
    const p50 = await scalar(`histogram_quantile(0.5, sum by (le) (rate(sluice_request_duration_seconds_bucket{revision="${REV}"}[30s])))`);
    expect(p50).toBeGreaterThanOrEqual(0.025);
    expect(p50).toBeLessThanOrEqual(0.05);
    // p99 of the steady load: still a 30 ms replica
    const p99 = await scalar(`histogram_quantile(0.99, sum by (le) (rate(sluice_request_duration_seconds_bucket{revision="${REV}"}[30s])))`);
    expect(p99).toBeGreaterThanOrEqual(0.025);
    expect(p99).toBeLessThanOrEqual(0.25);
    // and exactly the four held requests took longer than a second (they waited through the 2.5 s start)
    const slow = await scalar(
      `sum(sluice_request_duration_seconds_count{revision="${REV}"}) - sum(sluice_request_duration_seconds_bucket{revision="${REV}",le="1"})`,
    );
    expect(slow).toBe(4);
    expect(await scalar(`sluice_ready_replicas{revision="${REV}"}`)).toBe(1);
    expect(await scalar(`sluice_desired_replicas{revision="${REV}"}`)).toBe(1);
    expect(await scalar(`max_over_time(sluice_activator_held_requests{revision="${REV}"}[5m])`)).toBe(4);
    // sluice_cold_starts_total counts requests that waited for the revision to come up from zero: the four
    expect(await scalar(`sluice_cold_starts_total{revision="${REV}"}`)).toBe(4);
    expect(await scalar(`sum(sluice_cold_start_seconds_count{revision="${REV}"})`)).toBe(4);
    // and each waited at least the replica's 2.5 s start
    expect(await scalar(`histogram_quantile(0.5, sum by (le) (increase(sluice_cold_start_seconds_bucket{revision="${REV}"}[5m])))`)).toBeGreaterThanOrEqual(2);
  });

  it('answers every Grafana panel query with series', async () => {
    const dashboard = JSON.parse(readFileSync(join(SLUICE_ROOT, 'deploy', 'grafana', 'sluice-dashboard.json'), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(9);
    const empty: string[] = [];
    for (const panel of dashboard.panels) {
      for (const t of panel.targets) {
        // Grafana's variables as Grafana would fill them for "All" namespaces and a 1 s scrape
        const expr = t.expr.replaceAll('$namespace', '.*').replaceAll('$__rate_interval', '30s');
        const result = await query(expr);
        if (result.length === 0) empty.push(`${panel.title}: ${t.expr}`);
      }
    }
    expect(empty).toEqual([]);
  });
});

describe('sluice top', () => {
  it('showed the revision live in a terminal: share, req/s, ready replicas and the cold start', () => {
    const row = topScreens
      .flatMap((s) => s.split('\n'))
      .map((l) => l.trim().split(/\s+/))
      .filter((cols) => cols[2] === REV)
      // NAMESPACE SERVICE REVISION TRAFFIC REQ/S P50 P99 INFLIGHT HELD READY COLD/1M
      .find((cols) => Number(cols[4]) > 10 && cols[9] === '1/1');
    expect(row, `no screen showed ${REV} under load; last screen:\n${topScreens.at(-1)}`).toBeDefined();
    expect(row![0]).toBe('default');
    expect(row![1]).toBe('iris');
    expect(row![3]).toBe('100%');
    expect(Number(row![5])).toBeGreaterThanOrEqual(25); // p50 ms: the replica takes 30
  });

  it('quits on q, and -o json gives one snapshot', async () => {
    execFileSync('tmux', ['-L', topSession, 'send-keys', '-t', 'top', 'q']);
    await waitUntil('top to quit on q', async () => spawnSync('tmux', ['-L', topSession, 'has-session', '-t', 'top']).status !== 0, 10_000, 100);
    const r = await sluiceCli(['top', '-o', 'json', '--server', serve.adminUrl, '--state-dir', serve.stateDir, '--metrics-url', `${serve.metricsUrl}/metrics`, '--interval', '0.5']);
    expect(r.code, r.stderr).toBe(0);
    const snap = JSON.parse(r.stdout) as { revisions: Array<Record<string, unknown>> };
    expect(snap.revisions).toEqual([
      expect.objectContaining({ service: 'iris', revision: REV, trafficPercent: 100, readyReplicas: 1, desiredReplicas: 1, coldStartsLastMinute: 0 }),
    ]);
  });
});
