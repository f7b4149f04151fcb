/**
 * `sluice serve` as the load tests run it: one process, every role embedded (routing, 90/10 split, activator
 * dispatch, metrics, autoscaler), with the shared upstreams as the replicas of the two revisions of one
 * InferenceService (`bench`, updated with canaryTrafficPercent: 10). Prints `LISTENING <port>` when the split
 * is in place. With `--admin-port N` its admin API (the one `sluice promote|rollback|traffic` talk to) listens
 * on that loopback port, for the canary scenario; its bearer token is \`--admin-token T\` (or SLUICE_ADMIN_TOKEN).
 * With `--workers N` (N > 1) it runs as `sluice serve --workers N` does: this process keeps the control plane
 * and N worker processes share the data port, splitting each replica's capacity (cli/workers.ts). Usage:
 * With `--tracing-endpoint URL [--tracing-ratio R]` tracing is on (the tracing scenario).
 * With `--logger-url URL` both revisions log every request and response (`logger: {url, mode: all}`); with
 * `--metrics-port N` its `/metrics` listens on that loopback port; `--http1 node` serves the data port with
 * node:http's server instead of Sluice's own (the `http1Server` setting).
 *   node sluice-server.js --upstream URL --upstream URL [--timeout-ms N] [--admin-port N] [--admin-token T] [--workers N] [--tracing-endpoint URL] [--tracing-ratio R] [--logger-url URL] [--metrics-port N] [--http1 sluice|node]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInferenceService } from '../../api/inferenceservice.js';
import { startEmbedded } from '../../cli/embedded.js';
import { WorkerPool } from '../../cli/workers.js';
import { resolveServeConfig } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { StaticBackend } from '../../deploy/backends/static-backend.js';
import { isLimitRule, LIMIT_RULES, limitsOf, type LimitRule } from '../support/limits-on.js';


function args(): { upstreams: string[]; timeoutSeconds: number; adminPort: number; adminToken: string | undefined; workers: number; tracingEndpoint: string; tracingRatio: string; limits: LimitRule[]; loggerUrl: string | undefined; metricsPort: number; http1Server: 'sluice' | 'node' } {
  const a = process.argv.slice(2);
  const upstreams: string[] = [];
  let timeoutSeconds = 300;
  let adminPort = 0;
  let adminToken = process.env.SLUICE_ADMIN_TOKEN;
  let workers = 1;
  let tracingEndpoint = '';
  let tracingRatio = '';
  let limits: LimitRule[] = [];
  let loggerUrl: string | undefined;
  let metricsPort = 0;
  let http1Server: 'sluice' | 'node' = 'sluice';
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--limits') {
      // on: every rule; off: none; or rules by name, comma-separated (support/limits-on.ts).
      const v = a[++i] ?? '';
      const names = v === 'on' ? Object.keys(LIMIT_RULES) : v === 'off' ? [] : v.split(',');
      const unknown = names.filter((n) => !isLimitRule(n));
      if (unknown.length) throw new Error(`--limits takes on, off or rules from ${Object.keys(LIMIT_RULES).join(', ')}; got ${v}`);
      limits = names as LimitRule[];
      continue;
    }
    if (a[i] === '--upstream') upstreams.push(a[++i]!);
    else if (a[i] === '--timeout-ms') timeoutSeconds = Math.max(1, Math.ceil(Number(a[++i]) / 1000));
    else if (a[i] === '--admin-port') {
      adminPort = Number(a[++i]);
      if (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535) throw new Error(`--admin-port must be a port number, got ${a[i]}`);
    } else if (a[i] === '--admin-token') adminToken = a[++i];
    else if (a[i] === '--tracing-endpoint') tracingEndpoint = a[++i]!;
    else if (a[i] === '--tracing-ratio') tracingRatio = a[++i]!;
    else if (a[i] === '--logger-url') loggerUrl = a[++i];
    else if (a[i] === '--metrics-port') metricsPort = Number(a[++i]);
    else if (a[i] === '--http1') {
      const v = a[++i];
      if (v !== 'sluice' && v !== 'node') throw new Error(`--http1 must be sluice or node, got ${v}`);
      http1Server = v;
    }
    else if (a[i] === '--workers') {
      workers = Number(a[++i]);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) throw new Error(`--workers must be an integer from 1 to 64, got ${a[i]}`);
    }
  }
  if (upstreams.length !== 2) throw new Error('need exactly two --upstream URLs (primary, canary)');
  return { upstreams, timeoutSeconds, adminPort, adminToken, workers, tracingEndpoint, tracingRatio, limits, loggerUrl, metricsPort, http1Server };
}

function service(label: string, canary: number | null, timeoutSeconds: number, limits: readonly LimitRule[], loggerUrl?: string): unknown {
  const { annotations } = limitsOf(limits);
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'bench', namespace: 'default', ...(Object.keys(annotations).length ? { annotations } : {}) },
    spec: {
      predictor: {
        minReplicas: 1,
        maxReplicas: 1,
        timeout: timeoutSeconds,
        ...(canary === null ? {} : { canaryTrafficPercent: canary }),
        ...(loggerUrl === undefined ? {} : { logger: { url: loggerUrl, mode: 'all' } }),
        containers: [{ name: 'kserve-container', image: 'bench/json-responder:1', env: [{ name: 'LABEL', value: label }] }],
      },
    },
  };
}

async function main(): Promise<void> {
  const { upstreams, timeoutSeconds, adminPort, adminToken, workers, tracingEndpoint, tracingRatio, limits, loggerUrl, metricsPort, http1Server } = args();
  const backend = new StaticBackend((rev) => [rev.generation === 1 ? upstreams[0]! : upstreams[1]!]);
  const sluice = await startEmbedded({
    config: resolveServeConfig({
      dataHost: '127.0.0.1',
      dataPort: 0,
      adminHost: '127.0.0.1',
      adminPort,
      adminToken,
      metricsHost: '127.0.0.1',
      metricsPort,
      logLevel: 'silent',
      // One load generator opens every connection from one address.
      maxConnectionsPerClient: 0,
      http1Server,
      // Its own state directory: the generated admin token (when none is given) does not land in the checkout.
      stateDir: mkdtempSync(join(tmpdir(), 'sluice-bench-state-')),
      // Tracing (the tracing scenario): spans to its OTLP sink, the default parent-based sampler at this ratio.
      tracingEndpoint,
      tracingSamplerRatio: tracingRatio,
      ...limitsOf(limits).settings,
    }),
    // The OTEL_* variables of the shell that runs the benchmark do not reach the systems it compares.
    env: {},
    configDir: null,
    logger: silentLogger(),
    backend,
    ...(workers > 1 ? { workers: new WorkerPool(workers, silentLogger()) } : {}),
  });
  await sluice.controller.apply(parseInferenceService(service('primary', null, timeoutSeconds, limits, loggerUrl)).object, 'bench');
  await sluice.controller.apply(parseInferenceService(service('canary', 10, timeoutSeconds, limits, loggerUrl)).object, 'bench');
  const traffic = (sluice.controller.get('default', 'bench') as unknown as { status: { components: { predictor: { traffic: Array<{ percent: number }> } } } }).status.components.predictor.traffic;
  if (traffic.map((t) => t.percent).sort((x, y) => x - y).join('/') !== '10/90') throw new Error(`expected a 90/10 split, got ${JSON.stringify(traffic)}`);
  const port = new URL(sluice.dataUrl).port;
  process.stdout.write(`LISTENING ${port}\n`);
  const stop = (): void => void sluice.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sluice-server: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
