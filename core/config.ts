import { z } from 'zod';
import { ValidationError, type FieldIssue } from './errors.js';

/**
 * The one configuration schema of `sluice serve`. Every default is in this table and in docs/configuration.md;
 * each can be set in a config file (`sluice.yaml` in the config folder, key `serve:`), by flag, or by env.
 */
export const SERVE_DEFAULTS = {
  dataHost: '0.0.0.0',
  dataPort: 8080,
  adminHost: '127.0.0.1',
  adminPort: 8081,
  metricsHost: '0.0.0.0',
  metricsPort: 9090,
  /** Hosts are `<name>.<namespace>.<domain>`. */
  domain: 'example.com',
  /** Most requests held per revision while it has no spare replica. */
  maxHeldPerRevision: 10_000,
  maxHeldTotal: 50_000,
  /** Declared body bytes held per revision / in total (bodies stay in the kernel's socket buffers). */
  maxHeldBytesPerRevision: 256 * 1024 * 1024,
  maxHeldBytesTotal: 1024 * 1024 * 1024,
  /** Retry-After seconds sent with 503 when a hold bound refuses a request. */
  retryAfterSeconds: 1,
  /** Activator probe period (ms) for replicas out of rotation (new or failed). */
  activatorProbeIntervalMs: 100,
  /** Activator health-probe period (ms) for replicas in rotation; 0 = off. */
  activatorHealthIntervalMs: 500,
  /** Local backend: readiness probe period (ms) of a starting replica while no request waits for its revision. */
  replicaProbeIntervalMs: 50,
  /**
   * Local backend: readiness probe period (ms) of a starting replica while requests wait for its revision (backing
   * off to 1 % of the start-up so far, at most replicaProbeIntervalMs), and the least gap before a probe that a
   * line of the replica's output asks for.
   */
  replicaProbeFastIntervalMs: 10,
  /** Most InferenceServices accepted. */
  maxServices: 20_000,
  /** Keep-alive connections per replica in the forwarder. */
  connectionsPerReplica: 256,
  /** Seconds in-flight requests get to finish on SIGTERM. */
  shutdownGraceSeconds: 30,
  /** Seconds between autoscaler decisions. */
  tickSeconds: 2,
  /** Seconds a revision with no demand keeps its last replica before going to zero (cluster-wide, as Knative). */
  scaleToZeroGraceSeconds: 30,
  /** Revisions kept per service beyond those routed or rolled out (latest/previous); older ones are deleted. */
  revisionHistoryLimit: 5,
  /** Seconds between evaluations of rollout policies (progressive delivery). */
  rolloutTickSeconds: 1,
  logLevel: 'info',
  /** `auto`: human-readable lines when the logs go to a terminal, JSON lines otherwise; or `json`, `pretty`. */
  logFormat: 'auto',
  /**
   * Where `sluice serve` keeps what must survive a restart (services and revisions applied through the admin API,
   * the admin token). Relative paths are resolved against the working directory at start.
   */
  stateDir: '.sluice',
  /** GPU inventory of this machine for the local backend, e.g. `nvidia.com/gpu=2` (comma-separated); empty: none. */
  gpus: '',
} as const;

const port = z.number().int().min(0).max(65535);
const positive = z.number().int().positive();

const serveSchema = z
  .object({
    dataHost: z.string(),
    dataPort: port,
    adminHost: z.string(),
    adminPort: port,
    metricsHost: z.string(),
    metricsPort: port,
    domain: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a DNS domain such as example.com'),
    maxHeldPerRevision: positive,
    maxHeldTotal: positive,
    maxHeldBytesPerRevision: positive,
    maxHeldBytesTotal: positive,
    retryAfterSeconds: z.number().int().min(0),
    activatorProbeIntervalMs: z.number().int().min(10),
    activatorHealthIntervalMs: z.number().int().min(0),
    replicaProbeIntervalMs: z.number().int().min(1),
    replicaProbeFastIntervalMs: z.number().int().min(1),
    maxServices: positive,
    connectionsPerReplica: positive,
    shutdownGraceSeconds: z.number().min(0),
    tickSeconds: z.number().positive(),
    scaleToZeroGraceSeconds: z.number().min(0),
    revisionHistoryLimit: z.number().int().min(0),
    rolloutTickSeconds: z.number().positive(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    logFormat: z.enum(['auto', 'json', 'pretty']),
    stateDir: z.string().min(1, 'must name a directory'),
    gpus: z.string().regex(/^$|^[a-z0-9.-]+\/[a-z0-9.-]+=\d+(,[a-z0-9.-]+\/[a-z0-9.-]+=\d+)*$/, 'must look like nvidia.com/gpu=2[,amd.com/gpu=1]'),
  })
  .strict();

export type ServeConfig = z.infer<typeof serveSchema>;

/** Merges overrides onto the defaults and validates; errors name the key (`serve.dataPort: …`). */
export function resolveServeConfig(overrides: Record<string, unknown>): ServeConfig {
  const merged: Record<string, unknown> = { ...SERVE_DEFAULTS };
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
  const r = serveSchema.safeParse(merged);
  if (r.success) return r.data;
  const issues: FieldIssue[] = r.error.issues.map((i) => ({
    path: ['serve', ...i.path].join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown setting(s) ${i.keys.join(', ')}; known: ${Object.keys(SERVE_DEFAULTS).join(', ')}` : i.message,
  }));
  throw new ValidationError(issues, 'invalid configuration');
}

/** Parses the `gpus` setting into device counts per resource name. */
export function parseGpuInventory(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').filter(Boolean)) {
    const [name, count] = part.split('=') as [string, string];
    out[name] = Number(count);
  }
  return out;
}
