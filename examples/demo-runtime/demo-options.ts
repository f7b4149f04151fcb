/**
 * The demo runtime's knobs, from command-line flags first, then SLUICE_DEMO_* environment variables, then defaults.
 *
 * | flag                     | env                               | default   |
 * |--------------------------|-----------------------------------|-----------|
 * | --port                   | PORT                              | 8080      |
 * | --host                   | SLUICE_DEMO_HOST                  | 127.0.0.1 |
 * | --model-name             | SLUICE_DEMO_MODEL_NAME            | iris      |
 * | --model-dir              | SLUICE_DEMO_MODEL_DIR             | built-in  |
 * | --startup-delay-ms       | SLUICE_DEMO_STARTUP_DELAY_MS      | 0         |
 * | --latency-ms             | SLUICE_DEMO_LATENCY_MS            | 0         |
 * | --latency-jitter-ms      | SLUICE_DEMO_LATENCY_JITTER_MS     | 0         |
 * | --latency-per-row-ms     | SLUICE_DEMO_LATENCY_PER_ROW_MS    | 0         |
 * | --max-concurrency        | SLUICE_DEMO_MAX_CONCURRENCY       | 0 (none)  |
 * | --max-queue              | SLUICE_DEMO_MAX_QUEUE             | 1000      |
 * | --reject-over-capacity   | SLUICE_DEMO_REJECT_OVER_CAPACITY  | off       |
 * | --error-rate             | SLUICE_DEMO_ERROR_RATE            | 0         |
 * | --label                  | SLUICE_DEMO_LABEL                 | ''        |
 * | --shutdown-timeout-ms    | SLUICE_DEMO_SHUTDOWN_TIMEOUT_MS   | 30000     |
 * | --no-watch-stdin         | SLUICE_DEMO_WATCH_STDIN=0         | watch     |
 */
import { parseArgs } from 'node:util';

export interface DemoOptions {
  /** Name the model is served under (`/v1/models/<name>`). */
  modelName: string;
  /** Folder holding model.json; null → the built-in iris coefficients. */
  modelDir?: string | null;
  /** The model reports ready (and answers predictions) only this long after start. */
  startupDelayMs?: number;
  /** Time each prediction holds its worker slot. */
  latencyMs?: number;
  /** Uniform extra latency in [0, jitter). */
  latencyJitterMs?: number;
  /** Extra time per row (instance, dim-0 entry) of a prediction, on top of latencyMs (a batched model's cost). */
  latencyPerRowMs?: number;
  /** Worker slots; 0 = unbounded. Requests beyond wait in a FIFO. */
  maxConcurrency?: number;
  /** Bound of that FIFO; beyond it → 503. */
  maxQueue?: number;
  /** Refuse with 503 instead of queueing when all slots are busy. */
  rejectOverCapacity?: boolean;
  /** Fraction 0..1 of predictions answered 500; deterministic: exactly floor(n × rate) of the first n fail. */
  errorRate?: number;
  /** Echoed in `x-demo-label` and as the responses' model_version. */
  label?: string;
  /** Sent in `x-demo-replica`; defaults to the process id. */
  replicaId?: string;
  /** Largest request body accepted (bytes). */
  maxBodyBytes?: number;
}

export interface CliOptions extends Required<Omit<DemoOptions, 'modelDir'>> {
  modelDir: string | null;
  port: number;
  host: string;
  shutdownTimeoutMs: number;
  watchStdin: boolean;
}

function num(name: string, v: string | undefined, fallback: number, min = 0, max = Infinity): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new Error(`${name}: "${v}" is not a number in [${min}, ${max}]`);
  }
  return n;
}

function flag(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export function parseCliOptions(argv: string[], env: NodeJS.ProcessEnv): CliOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'model-name': { type: 'string' },
      'model-dir': { type: 'string' },
      'startup-delay-ms': { type: 'string' },
      'latency-ms': { type: 'string' },
      'latency-jitter-ms': { type: 'string' },
      'latency-per-row-ms': { type: 'string' },
      'max-concurrency': { type: 'string' },
      'max-queue': { type: 'string' },
      'reject-over-capacity': { type: 'boolean' },
      'error-rate': { type: 'string' },
      label: { type: 'string' },
      'shutdown-timeout-ms': { type: 'string' },
      'no-watch-stdin': { type: 'boolean' },
    },
  });
  const pick = (key: keyof typeof values, envName: string): string | undefined => {
    const v = values[key];
    return typeof v === 'string' ? v : env[envName];
  };
  return {
    port: num('--port', pick('port', 'PORT'), 8080, 0, 65535),
    host: pick('host', 'SLUICE_DEMO_HOST') || '127.0.0.1',
    modelName: pick('model-name', 'SLUICE_DEMO_MODEL_NAME') || 'iris',
    modelDir: pick('model-dir', 'SLUICE_DEMO_MODEL_DIR') || null,
    startupDelayMs: num('startup delay', pick('startup-delay-ms', 'SLUICE_DEMO_STARTUP_DELAY_MS'), 0),
    latencyMs: num('latency', pick('latency-ms', 'SLUICE_DEMO_LATENCY_MS'), 0),
    latencyJitterMs: num('latency jitter', pick('latency-jitter-ms', 'SLUICE_DEMO_LATENCY_JITTER_MS'), 0),
    latencyPerRowMs: num('latency per row', pick('latency-per-row-ms', 'SLUICE_DEMO_LATENCY_PER_ROW_MS'), 0),
    maxConcurrency: num('max concurrency', pick('max-concurrency', 'SLUICE_DEMO_MAX_CONCURRENCY'), 0),
    maxQueue: num('max queue', pick('max-queue', 'SLUICE_DEMO_MAX_QUEUE'), 1000),
    rejectOverCapacity:
      values['reject-over-capacity'] === true || flag(env['SLUICE_DEMO_REJECT_OVER_CAPACITY']),
    errorRate: num('error rate', pick('error-rate', 'SLUICE_DEMO_ERROR_RATE'), 0, 0, 1),
    label: pick('label', 'SLUICE_DEMO_LABEL') ?? '',
    replicaId: String(process.pid),
    maxBodyBytes: num('max body bytes', env['SLUICE_DEMO_MAX_BODY_BYTES'], 1 << 20, 1),
    shutdownTimeoutMs: num('shutdown timeout', pick('shutdown-timeout-ms', 'SLUICE_DEMO_SHUTDOWN_TIMEOUT_MS'), 30_000),
    watchStdin:
      values['no-watch-stdin'] !== true && (env['SLUICE_DEMO_WATCH_STDIN'] === undefined || flag(env['SLUICE_DEMO_WATCH_STDIN'])),
  };
}
