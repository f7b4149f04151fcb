/**
 * The gateway's own endpoints at its bare address (a request no InferenceService route matches): the Open
 * Inference Protocol's server endpoints (`GET /v2`, `/v2/health/live`, `/v2/health/ready`), KServe v1's model
 * list (`GET /v1/models`), and `/healthz` / `/readyz` for load balancers. Host- and `/serving/`-routed requests
 * never get here: they reach the runtime's own endpoints. See docs/probes.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteTable } from '../api/route.js';
import { writeError } from '../core/errors.js';
import { SLUICE_VERSION } from '../core/version.js';

export type GatewayPhaseName = 'starting' | 'serving' | 'draining';

/**
 * Where the gateway is in its life, for its readiness: `starting` until its routes are loaded, `serving`, then
 * `draining` from the shutdown signal on (it still answers, but a load balancer should send no more).
 */
export class GatewayPhase {
  private phase: GatewayPhaseName;

  constructor(initial: GatewayPhaseName = 'serving') {
    this.phase = initial;
  }

  get name(): GatewayPhaseName {
    return this.phase;
  }

  /** Routes are loaded: ready (never leaves `draining`). */
  serving(): void {
    if (this.phase === 'starting') this.phase = 'serving';
  }

  /** Shutting down: not ready from now on. */
  draining(): void {
    this.phase = 'draining';
  }

  /** Why the gateway is not ready, or null when it is. */
  notReadyReason(): string | null {
    if (this.phase === 'serving') return null;
    return this.phase === 'starting' ? 'Sluice is starting: its routes are not loaded yet' : 'Sluice is shutting down';
  }
}

/**
 * `GET /v2`: Sluice names itself. Extensions: none. Sluice passes every model-scoped request through unchanged
 * (binary tensor data, parameters, classification work when the model's runtime supports them), but which of
 * those a model has depends on its runtime, so the gateway claims none for all; a model's own server lists its
 * own (`GET /serving/<ns>/<name>/v2`).
 */
export const SERVER_METADATA = Object.freeze({ name: 'sluice', version: SLUICE_VERSION, extensions: Object.freeze([]) as readonly string[] });

type Endpoint = 'v2-server' | 'v2-live' | 'v2-ready' | 'v1-list' | 'healthz' | 'readyz';

const ENDPOINTS: ReadonlyMap<string, Endpoint> = new Map([
  ['/v2', 'v2-server'],
  ['/v2/', 'v2-server'],
  ['/v2/health/live', 'v2-live'],
  ['/v2/health/ready', 'v2-ready'],
  ['/v1/models', 'v1-list'],
  ['/v1/models/', 'v1-list'],
  ['/healthz', 'healthz'],
  ['/readyz', 'readyz'],
]);

/** The `GET /v1/models` body per route table (tables are immutable, so it is made once per change). */
const modelLists = new WeakMap<RouteTable, string>();

/**
 * Answers `req` when its path is one of the gateway's own endpoints and returns true; false otherwise (the
 * caller answers 404). Called only for requests no route matched.
 */
export function answerServerEndpoint(req: IncomingMessage, res: ServerResponse, routes: RouteTable, phase: GatewayPhase): boolean {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const endpoint = ENDPOINTS.get(path);
  if (endpoint === undefined) return false;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    writeError(res, 405, `method ${req.method ?? ''} is not allowed on ${path}; use GET`, { allow: 'GET, HEAD' });
    return true;
  }
  switch (endpoint) {
    case 'v2-server':
      sendJson(res, 200, JSON.stringify(SERVER_METADATA));
      return true;
    case 'v2-live':
      sendJson(res, 200, '{"live":true}');
      return true;
    case 'healthz':
      sendJson(res, 200, '{"status":"ok"}');
      return true;
    case 'v1-list':
      sendJson(res, 200, modelList(routes));
      return true;
    case 'v2-ready':
    case 'readyz': {
      const reason = phase.notReadyReason();
      if (reason !== null) writeError(res, 503, reason);
      else sendJson(res, 200, endpoint === 'readyz' ? '{"status":"ready"}' : '{"ready":true}');
      return true;
    }
  }
}

/** The model names a client can use at the bare address (`/v1|v2/models/<name>`), sorted. */
function modelList(routes: RouteTable): string {
  let body = modelLists.get(routes);
  if (body === undefined) {
    body = JSON.stringify({ models: [...routes.byModel.keys()].sort() });
    modelLists.set(routes, body);
  }
  return body;
}

function sendJson(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
