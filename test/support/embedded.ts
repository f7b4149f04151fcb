import { mkdtempSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveServeConfig, type ServeConfig } from '../../core/config.js';
import { silentLogger } from '../../core/log.js';
import { startEmbedded, type Embedded, type EmbeddedOptions } from '../../cli/embedded.js';
import { SLUICE_ROOT } from './paths.js';

/** A config folder holding the demo runtime and the given InferenceService YAML documents. */
export function configFolder(services: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  cpSync(join(SLUICE_ROOT, 'examples', 'runtimes'), join(dir, 'runtimes'), { recursive: true });
  for (const [file, text] of Object.entries(services)) writeFileSync(join(dir, file), text);
  return dir;
}

/** Starts every role in this process on free loopback ports; `embedded` adds options (e.g. extraStages). */
export async function startTestSluice(
  configDir: string | null,
  overrides: Partial<ServeConfig> = {},
  pythonPath?: string,
  embedded: Pick<EmbeddedOptions, 'extraStages' | 'env' | 'rateLimitStore'> = {},
): Promise<Embedded> {
  const config = resolveServeConfig({
    dataHost: '127.0.0.1',
    dataPort: 0,
    adminPort: 0,
    metricsHost: '127.0.0.1',
    metricsPort: 0,
    logLevel: 'silent',
    stateDir: mkdtempSync(join(tmpdir(), 'sluice-state-')),
    // Tests are one client (127.0.0.1) that may open more connections than the per-address cap allows.
    maxConnectionsPerClient: 0,
    ...overrides,
  });
  return startEmbedded({ config, configDir, logger: silentLogger(), watch: true, pythonPath, ...embedded });
}

/** The headers an admin API client sends: the instance's bearer token (and a content type for a body). */
export function adminHeaders(s: Pick<Embedded, 'adminToken'>, contentType?: string): Record<string, string> {
  return { authorization: `Bearer ${s.adminToken}`, ...(contentType === undefined ? {} : { 'content-type': contentType }) };
}

/** One admin API call with the instance's token (a JSON body when given); resolves with the status and parsed body. */
export async function adminCall<T = Record<string, unknown>>(
  s: Pick<Embedded, 'adminUrl' | 'adminToken'>,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const r = await fetch(`${s.adminUrl}${path}`, {
    method,
    headers: adminHeaders(s, body === undefined ? undefined : 'application/json'),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as T };
}

/** CLI arguments that point `sluice` at a test instance: its admin URL and its state directory (where its token is). */
export function cliTarget(s: Pick<Embedded, 'adminUrl' | 'stateDir'>): string[] {
  return ['--server', s.adminUrl, '--state-dir', s.stateDir];
}

/** An InferenceService on the demo runtime; `extra` lines are added under `spec.predictor`. */
export function demoService(name: string, opts: { annotations?: Record<string, string>; predictor?: string; env?: Record<string, string> } = {}): string {
  const ann = Object.entries(opts.annotations ?? {})
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  const env = Object.entries(opts.env ?? {})
    .map(([k, v]) => `        - name: ${k}\n          value: "${v}"`)
    .join('\n');
  return `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${name}
${ann ? `  annotations:\n${ann}\n` : ''}spec:
  predictor:
${opts.predictor ?? '    minReplicas: 0\n'}    model:
      modelFormat:
        name: sklearn
      runtime: sluice-demo
      storageUri: file://${join(SLUICE_ROOT, 'examples', 'models', 'iris')}
${env ? `      env:\n${env}\n` : ''}`;
}
