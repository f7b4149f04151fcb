/**
 * STAND-IN for TensorFlow Serving's REST API (tensorflow_model_server has no PyPI or npm build, so the real
 * server cannot run here). It speaks the documented surface KServe's `kserve-tensorflow-serving` runtime
 * exposes on its REST port, for one model:
 *   GET  /v1/models/<m>[/versions/<v>]            model status {"model_version_status": [...]}
 *   GET  /v1/models/<m>[/versions/<v>]/metadata   {"model_spec": ..., "metadata": {"signature_def": ...}}
 *   POST /v1/models/<m>[/versions/<v>]:predict    row format {"instances": [...]} -> {"predictions": [...]}
 *                                                 columnar {"inputs": [...]} -> {"outputs": [...]}
 * Errors are TF Serving's shape `{"error": "..."}`: 400 for INVALID_ARGUMENT (bad JSON, missing or both of
 * instances/inputs, wrong shape), 404 for an unknown model/version or path, 405 for a wrong method.
 * Flags follow tensorflow_model_server: --rest_api_port, --model_name, --model_base_path.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { pathToFileURL } from 'node:url';

import { loadLatestVersion, ModelInputError, predictRows, type LinearModel } from './tf-serving-model.js';

export interface TfServingOptions {
  modelName: string;
  modelBasePath: string;
  /** Largest request body accepted, bytes. */
  maxBodyBytes?: number;
}

class HttpFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const ROUTE = /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?(\/metadata|:predict|:classify|:regress)?$/;

export function createTfServingStandIn(options: TfServingOptions): Server {
  const model = loadLatestVersion(options.modelBasePath);
  const maxBody = options.maxBodyBytes ?? 8 * 1024 * 1024;
  return createServer((req, res) => {
    handle(req, model, options.modelName, maxBody)
      .then((body) => send(res, 200, body))
      .catch((err: unknown) => {
        const failure = err instanceof HttpFailure ? err : new HttpFailure(500, String(err));
        send(res, failure.status, { error: failure.message });
      });
  });
}

async function handle(req: IncomingMessage, model: LinearModel, name: string, maxBody: number): Promise<unknown> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const match = ROUTE.exec(path);
  if (!match) throw new HttpFailure(404, `Malformed request: ${req.method ?? ''} ${path}`);
  const [, requested, version, verb] = match;
  if (requested !== name || (version !== undefined && version !== model.version)) {
    const which = version === undefined ? `Latest(${requested})` : `Specific(${requested}, ${version})`;
    throw new HttpFailure(404, `Servable not found for request: ${which}`);
  }
  if (verb === undefined || verb === '/metadata') {
    if (req.method !== 'GET') throw new HttpFailure(405, `Method not allowed: ${req.method ?? ''} ${path}`);
    return verb === undefined ? status(model) : metadata(model, name);
  }
  if (req.method !== 'POST') throw new HttpFailure(405, `Method not allowed: ${req.method ?? ''} ${path}`);
  if (verb !== ':predict') throw new HttpFailure(400, `${verb.slice(1)} is not supported by this model's signature`);
  return predict(model, await readJson(req, maxBody));
}

function status(model: LinearModel): unknown {
  return {
    model_version_status: [{ version: model.version, state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
  };
}

function metadata(model: LinearModel, name: string): unknown {
  const features = model.coef[0]?.length ?? 0;
  return {
    model_spec: { name, signature_name: '', version: model.version },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: { input: { dtype: 'DT_DOUBLE', tensor_shape: { dim: [{ size: '-1' }, { size: String(features) }] }, name: 'input:0' } },
            outputs: { output: { dtype: 'DT_DOUBLE', tensor_shape: { dim: [{ size: '-1' }, { size: String(model.coef.length) }] }, name: 'output:0' } },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  };
}

function predict(model: LinearModel, body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpFailure(400, 'Request body must be a JSON object');
  }
  const request = body as Record<string, unknown>;
  const hasInstances = 'instances' in request;
  const hasInputs = 'inputs' in request;
  if (hasInstances && hasInputs) {
    throw new HttpFailure(400, "Not formatted correctly expecting only one of 'inputs' or 'instances' keys exist");
  }
  if (!hasInstances && !hasInputs) throw new HttpFailure(400, "Missing 'inputs' or 'instances' key");
  try {
    return hasInstances
      ? { predictions: predictRows(model, request.instances) }
      : { outputs: predictRows(model, request.inputs) };
  } catch (err) {
    if (err instanceof ModelInputError) throw new HttpFailure(400, err.message);
    throw err;
  }
}

async function readJson(req: IncomingMessage, maxBody: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBody) throw new HttpFailure(413, `Request body larger than ${maxBody} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpFailure(400, `JSON Parse error: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 4);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function flag(argv: string[], name: string): string | undefined {
  const prefix = `--${name}=`;
  const inline = argv.find((a) => a.startsWith(prefix));
  if (inline !== undefined) return inline.slice(prefix.length);
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? argv[at + 1] : undefined;
}

function main(argv: string[]): void {
  const port = Number(flag(argv, 'rest_api_port') ?? '8501');
  const modelName = flag(argv, 'model_name') ?? 'default';
  const modelBasePath = flag(argv, 'model_base_path');
  if (modelBasePath === undefined) {
    process.stderr.write('tf-serving stand-in: --model_base_path is required\n');
    process.exit(2);
  }
  const server = createTfServingStandIn({ modelName, modelBasePath });
  server.listen(port, '127.0.0.1', () => {
    process.stderr.write(`tf-serving stand-in: ${modelName} from ${modelBasePath} on 127.0.0.1:${port}\n`);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main(process.argv.slice(2));
}
