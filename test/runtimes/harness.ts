/** Helpers of the runtime conformance suite: train models, launch recipes, call runtimes with real clients. */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'vitest';

import { freePort, launchRecipe, loadRecipe, type RecipeDocument, type RunningReplica } from '../support/recipe-process.js';

const run = promisify(execFile);

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export type VenvName = 'kserve' | 'mlserver' | 'triton' | 'paddle' | 'clients';
export const venvPython = (venv: VenvName): string => join(ROOT, '.venv-runtimes', venv, 'bin', 'python');

export type Expected = Record<string, unknown> & { inputs: number[][] };

/** Runs runtimes/models/<script>.py --out <dir> in a venv and returns the expected.json it wrote. */
export function train(venv: VenvName, script: string, outDir: string, env: Record<string, string> = {}): Expected {
  execFileSync(venvPython(venv), [join(ROOT, 'runtimes', 'models', `${script}.py`), '--out', outDir], {
    env: { ...process.env, OMP_NUM_THREADS: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 300_000,
  });
  return JSON.parse(readFileSync(join(outDir, 'expected.json'), 'utf8')) as Expected;
}

export function recipe(name: string): RecipeDocument {
  return loadRecipe(join(ROOT, 'deploy', 'catalogue', 'local', `${name}.yaml`));
}

export async function launch(doc: RecipeDocument, modelName: string, modelDir: string, logDir: string): Promise<RunningReplica> {
  const port = await freePort();
  return launchRecipe(
    doc,
    {
      python: venvPython('kserve'),
      node: process.execPath,
      port,
      modelName,
      modelDir,
      storageUri: `file://${modelDir}`,
      sluiceRoot: ROOT,
    },
    join(logDir, `${doc.name}-${modelName}.log`),
  );
}

export interface HttpAnswer {
  status: number;
  text: string;
  json: unknown;
}

/** One request with curl (a real client, not undici), JSON body from stdin. */
export async function curl(method: 'GET' | 'POST', url: string, body?: string): Promise<HttpAnswer> {
  const args = ['-sS', '-X', method, '-o', '-', '-w', '\n%{http_code}', url];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '--data-binary', '@-');
  const child = run('curl', args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  child.child.stdin?.end(body ?? '');
  const { stdout } = await child;
  const cut = stdout.lastIndexOf('\n');
  const text = stdout.slice(0, cut);
  let json: unknown = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(stdout.slice(cut + 1)), text, json };
}

async function pythonJson(venv: VenvName, script: string, args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(venvPython(venv), [join(ROOT, 'test', 'runtimes', 'clients', script), ...args], {
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

export interface V2Tensor {
  name: string;
  shape: number[];
  datatype: 'FP64' | 'FP32' | 'INT64';
  data: unknown;
}

/** kserve.InferenceRESTClient (the KServe SDK's client), v1 or v2. */
export function kserveRest(replica: RunningReplica, model: string, protocol: 'v1' | 'v2', request: unknown) {
  return pythonJson('kserve', 'kserve_rest.py', [replica.baseUrl, model, protocol, JSON.stringify(request)]);
}

/** tritonclient[http] InferenceServerClient.infer. */
export function tritonHttp(replica: RunningReplica, model: string, request: { inputs: V2Tensor[]; outputs?: string[]; parameters?: Record<string, string>; json_content_type?: boolean }) {
  return pythonJson('kserve', 'triton_http.py', [`127.0.0.1:${replica.port}`, model, JSON.stringify(request)]);
}

/** tritonclient[grpc] InferenceServerClient.infer against `hostPort`; with `stream`, that many over ModelStreamInfer. */
export function tritonGrpc(hostPort: string, model: string, request: { inputs: V2Tensor[]; outputs?: string[] }, stream = 0) {
  return pythonJson('kserve', 'triton_grpc.py', [hostPort, model, JSON.stringify(request), String(stream)]);
}

/** kserve.InferenceGRPCClient (the KServe SDK's gRPC client) against `hostPort`. */
export function kserveGrpc(hostPort: string, model: string, request: { inputs: V2Tensor[] }) {
  return pythonJson('kserve', 'kserve_grpc.py', [hostPort, model, JSON.stringify(request)]);
}

export type TritonProbeStep = 'server_live' | 'server_ready' | 'server_metadata' | 'model_ready' | 'model_metadata' | 'infer';
export type TritonProbeAnswer = { step: TritonProbeStep; ok: true; value: unknown } | { step: TritonProbeStep; ok: false; status: string | null; error: string };

/** tritonclient[http]'s health, readiness and metadata calls (and one infer) against `hostPort`, from the small clients venv. */
export async function tritonProbes(hostPort: string, model: string, steps: TritonProbeStep[]): Promise<TritonProbeAnswer[]> {
  const { stdout } = await run(venvPython('clients'), [join(ROOT, 'test', 'runtimes', 'clients', 'triton_probes.py'), hostPort, model, JSON.stringify(steps)], {
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '[]') as TritonProbeAnswer[];
}

export function rowsTensor(name: string, rows: number[][]): V2Tensor {
  return { name, shape: [rows.length, rows[0]?.length ?? 0], datatype: 'FP64', data: rows.flat() };
}

/** Deep equality with a relative/absolute tolerance for numbers. */
export function expectClose(actual: unknown, expected: unknown, tolerance = 1e-6, path = '$'): void {
  // A missing expectation (a fixture key that is not there) must not pass against a missing answer.
  if (expected === undefined) throw new Error(`${path}: no expected value (missing fixture field?)`);
  if (typeof expected === 'number') {
    expect(typeof actual, `${path} type`).toBe('number');
    const diff = Math.abs((actual as number) - expected);
    expect(diff <= tolerance * Math.max(1, Math.abs(expected)), `${path}: ${String(actual)} vs ${expected}`).toBe(true);
    return;
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), `${path} is an array`).toBe(true);
    expect((actual as unknown[]).length, `${path} length`).toBe(expected.length);
    expected.forEach((e, i) => expectClose((actual as unknown[])[i], e, tolerance, `${path}[${i}]`));
    return;
  }
  if (typeof expected === 'object' && expected !== null) {
    expect(typeof actual, `${path} type`).toBe('object');
    for (const [k, v] of Object.entries(expected)) expectClose((actual as Record<string, unknown>)[k], v, tolerance, `${path}.${k}`);
    return;
  }
  expect(actual, path).toEqual(expected);
}
