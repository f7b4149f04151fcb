import { availableParallelism, totalmem } from 'node:os';
import { z } from 'zod';
import { DEFAULT_STATE_DIR } from './state-dir.js';
import { ValidationError, type FieldIssue } from './errors.js';
import { parseQuantity } from './quantity.js';

/**
 * Local backend: replica processes at once, across every revision: 4 per core, at least 8. A replica's start-up
 * (loading a runtime and a model) is CPU-bound, and past a few per core starting and serving at once they starve
 * the gateway's own event loop (2,000 services once started 2,001 processes and the data plane answered 2
 * requests in 10 s); the floor of 8 lets a 2-core laptop run the shipped step-spike scenario (1–8 replicas).
 * Memory is bounded separately (replicaMemoryBudget).
 */
export const DEFAULT_MAX_REPLICAS_TOTAL = Math.max(8, 4 * availableParallelism());
/** Local backend: half of this machine's memory, for the replicas' memory requests together. */
export const DEFAULT_REPLICA_MEMORY_BUDGET = Math.floor(totalmem() / 2);

/**
 * The one configuration schema of `sluice serve`. Every default is in this table and in docs/configuration.md;
 * each can be set in a config file (`sluice.yaml` in the config folder, key `serve:`), by flag, or by env.
 */
export const SERVE_DEFAULTS = {
  dataHost: '0.0.0.0',
  dataPort: 8080,
  adminHost: '127.0.0.1',
  adminPort: 8081,
  /**
   * The admin API's bearer token. Empty: \`sluice serve\` makes one and keeps it in \`<stateDir>/admin-token\` (0600),
   * reused across restarts. Required when adminHost is not loopback. Also \`SLUICE_ADMIN_TOKEN\`; never logged.
   */
  adminToken: '',
  /** Host names (comma-separated, no port) the admin API answers to besides loopback names and its own address. */
  adminAllowedHosts: '',
  /** Largest admin request body; larger ones get 413. */
  adminMaxBodyBytes: 1024 * 1024,
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
  /** Seconds a client has to send a request's head (line and headers) from its first byte; then 408. */
  headerTimeoutSeconds: 10,
  /**
   * Longest silence (seconds) of a client while the gateway reads its request body; then 408. Time a request is
   * held (its body waits unread) or the replica is slow to take the body does not count. 0 = none.
   */
  bodyTimeoutSeconds: 30,
  /** Client connections open at once on the data port; more are closed at accept. */
  maxConnections: 10_000,
  /** Client connections open at once from one address; more are closed at accept. 0 = no cap (behind a load balancer). */
  maxConnectionsPerClient: 1_000,
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
  stateDir: DEFAULT_STATE_DIR,
  /** Deleted services whose revision counter is remembered (so a re-created one never reuses a revision name). */
  deletedServicesRemembered: 10_000,
  /** GPU inventory of this machine for the local backend, e.g. `nvidia.com/gpu=2` (comma-separated); empty: none. */
  gpus: '',
  /** Local backend: replica processes at once across every revision; more stay pending (DEFAULT_MAX_REPLICAS_TOTAL). */
  maxReplicasTotal: DEFAULT_MAX_REPLICAS_TOTAL,
  /** Local backend: bytes (or a Kubernetes quantity such as `8Gi`) the running replicas' memory requests may sum to. */
  replicaMemoryBudget: DEFAULT_REPLICA_MEMORY_BUDGET as number | string,
  /** Local backend: memory a replica counts against the budget when its runtime requests none. */
  replicaMemoryDefault: '256Mi' as number | string,
} as const;

const port = z.number().int().min(0).max(65535);
/** Bytes, as a number or a Kubernetes quantity (`8Gi`, `512M`); resolved to a positive number of bytes. */
const bytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  let n: number;
  try {
    n = parseQuantity(v);
  } catch {
    n = NaN;
  }
  if (!(n >= 1) || !Number.isFinite(n)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a positive number of bytes or a quantity such as 8Gi, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
  return Math.floor(n);
});
const positive = z.number().int().positive();

const serveSchema = z
  .object({
    dataHost: z.string(),
    dataPort: port,
    adminHost: z.string(),
    adminPort: port,
    adminToken: z
      .string()
      .regex(/^$|^[A-Za-z0-9._~+/=-]{16,512}$/, 'must be 16 to 512 characters of A-Z a-z 0-9 . _ ~ + / = - (or empty to generate one)'),
    adminAllowedHosts: z
      .string()
      .regex(/^$|^[A-Za-z0-9.-]+(,[A-Za-z0-9.-]+)*$/, 'must be host names separated by commas, without ports, e.g. sluice.internal,admin.example.com'),
    adminMaxBodyBytes: positive,
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
    headerTimeoutSeconds: z.number().positive(),
    bodyTimeoutSeconds: z.number().min(0),
    maxConnections: positive,
    maxConnectionsPerClient: z.number().int().min(0),
    tickSeconds: z.number().positive(),
    scaleToZeroGraceSeconds: z.number().min(0),
    revisionHistoryLimit: z.number().int().min(0),
    rolloutTickSeconds: z.number().positive(),
    logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']),
    logFormat: z.enum(['auto', 'json', 'pretty']),
    stateDir: z.string().min(1, 'must name a directory'),
    deletedServicesRemembered: z.number().int().min(0),
    gpus: z.string().regex(/^$|^[a-z0-9.-]+\/[a-z0-9.-]+=\d+(,[a-z0-9.-]+\/[a-z0-9.-]+=\d+)*$/, 'must look like nvidia.com/gpu=2[,amd.com/gpu=1]'),
    maxReplicasTotal: positive,
    replicaMemoryBudget: bytes,
    replicaMemoryDefault: bytes,
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

/**
 * Reads `name=value` pairs (the `--set` flag) into overrides for resolveServeConfig: numbers where the table's
 * default is a number. Unknown names and bad values are reported by resolveServeConfig, naming the setting.
 */
export function parseSettingPairs(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ValidationError([{ path: `--set ${pair}`, message: 'must look like name=value, e.g. shutdownGraceSeconds=5' }], 'invalid configuration');
    const name = pair.slice(0, eq);
    const text = pair.slice(eq + 1);
    const kind = typeof (SERVE_DEFAULTS as Record<string, unknown>)[name];
    out[name] = kind === 'number' && text.trim() !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  }
  return out;
}
