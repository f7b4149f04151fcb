/**
 * `sluice serve` embedded for the auth-cost measurement: three InferenceServices on the same upstream (a static
 * backend), `bench-open` (auth none), `bench-key` (sluice.dev/auth: api-key) and `bench-jwt` (jwt, keys from the
 * given JWKS URL). Makes one API key through the admin API and prints `LISTENING <port> <api key>`. Usage:
 *   node sluice-auth-server.js --upstream URL --jwks URL --issuer ISS
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInferenceService } from '../../api/inferenceservice.js';
import { startEmbedded } from '../../cli/embedded.js';
import { resolveServeConfig } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { StaticBackend } from '../../deploy/backends/static-backend.js';

function arg(name: string): string {
  const i = process.argv.indexOf(name);
  if (i === -1 || process.argv[i + 1] === undefined) throw new Error(`${name} is required`);
  return process.argv[i + 1]!;
}

function service(name: string, annotations: Record<string, string>): unknown {
  return {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name, namespace: 'default', annotations },
    spec: { predictor: { minReplicas: 1, maxReplicas: 1, containers: [{ name: 'kserve-container', image: 'bench/json-responder:1' }] } },
  };
}

async function main(): Promise<void> {
  const upstream = arg('--upstream');
  const backend = new StaticBackend(() => [upstream]);
  const sluice = await startEmbedded({
    config: resolveServeConfig({
      dataHost: '127.0.0.1',
      dataPort: 0,
      adminHost: '127.0.0.1',
      adminPort: 0,
      metricsHost: '127.0.0.1',
      metricsPort: 0,
      logLevel: 'silent',
      maxConnectionsPerClient: 0,
      stateDir: mkdtempSync(join(tmpdir(), 'sluice-bench-state-')),
    }),
    configDir: null,
    logger: silentLogger(),
    backend,
  });
  await sluice.controller.apply(parseInferenceService(service('bench-open', {})).object, 'bench');
  await sluice.controller.apply(parseInferenceService(service('bench-key', { 'sluice.dev/auth': 'api-key' })).object, 'bench');
  await sluice.controller.apply(
    parseInferenceService(
      service('bench-jwt', { 'sluice.dev/auth': 'jwt', 'sluice.dev/auth-jwt-issuer': arg('--issuer'), 'sluice.dev/auth-jwt-jwks-url': arg('--jwks') }),
    ).object,
    'bench',
  );
  const r = await fetch(`${sluice.adminUrl}/apis/auth.sluice.dev/v1alpha1/apikeys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sluice.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', scopes: ['default/bench-key'] }),
  });
  const key = ((await r.json()) as { key: string }).key;
  process.stdout.write(`LISTENING ${new URL(sluice.dataUrl).port} ${key}\n`);
  const stop = (): void => void sluice.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sluice-auth-server: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
