/**
 * The `autoscaling.knative.dev/*` and `serving.kserve.io/*` annotations an InferenceService may carry: which keys
 * are known and which values each accepts. Unknown `autoscaling.knative.dev/` keys are errors (a typo there
 * silently changes scaling); unknown `serving.kserve.io/` keys are warnings (KServe adds keys often).
 */
import type { FieldIssue } from '../core/errors.js';
import { authWarnings, checkAuthAnnotations } from './auth-policy.js';
import { parseDurationSeconds } from './duration.js';
import { describeValue } from './issues.js';
import { checkIngressAnnotations } from './ingress-policy.js';

export const AUTOSCALING_PREFIX = 'autoscaling.knative.dev/';
export const KSERVE_PREFIX = 'serving.kserve.io/';
/** Sluice's own autoscaling annotations (no Knative equivalent). */
export const SLUICE_AUTOSCALING_PREFIX = 'autoscaling.sluice.dev/';

/** Knative serving annotations Sluice reads (others under this prefix are Knative's business and ignored). */
export const PROGRESS_DEADLINE_ANNOTATION = 'serving.knative.dev/progress-deadline';
/** Sluice: how many replicas of a new revision may exit before one is ready until the revision is failed. */
export const MAX_START_FAILURES_ANNOTATION = 'sluice.dev/max-start-failures';
/** Knative's default progress deadline. */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_MAX_START_FAILURES = 3;

/** Returns an error message for a bad value, or null when the value is fine. */
type Check = (value: string) => string | null;

function oneOf(...values: string[]): Check {
  return (v) => (values.includes(v) ? null : `${describeValue(v)} is not one of ${values.join(', ')}`);
}

function numberIn(min: number, max: number, opts: { integer?: boolean; allow?: number[] } = {}): Check {
  return (v) => {
    const n = v.trim() === '' ? Number.NaN : Number(v);
    const kind = opts.integer ? 'an integer' : 'a number';
    if (!Number.isFinite(n)) return `expected ${kind}, got ${describeValue(v)}`;
    if (opts.allow?.includes(n)) return null;
    if (opts.integer && !Number.isInteger(n)) return `expected an integer, got ${describeValue(v)}`;
    const range = max === Number.POSITIVE_INFINITY ? `≥ ${min}` : `between ${min} and ${max}`;
    const also = opts.allow ? ` (or ${opts.allow.join(', ')})` : '';
    return n < min || n > max ? `must be ${range}${also}, got ${v}` : null;
  };
}

function positiveNumber(): Check {
  return (v) => {
    const n = Number(v);
    return v.trim() !== '' && Number.isFinite(n) && n > 0 ? null : `expected a number > 0, got ${describeValue(v)}`;
  };
}

function duration(minSeconds: number, maxSeconds: number): Check {
  return (v) => {
    const s = parseDurationSeconds(v);
    if (s === null) return `expected a duration like "60s", "1m30s" or "1h", got ${describeValue(v)}`;
    if (s < minSeconds || s > maxSeconds) {
      const max = maxSeconds === Number.POSITIVE_INFINITY ? '' : ` and ${formatSeconds(maxSeconds)}`;
      return max === ''
        ? `must be ≥ ${formatSeconds(minSeconds)}, got ${v}`
        : `must be between ${formatSeconds(minSeconds)}${max}, got ${v}`;
    }
    return null;
  };
}

function formatSeconds(s: number): string {
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const boolean = oneOf('true', 'false');
const anyString: Check = () => null;
const UNBOUNDED = Number.POSITIVE_INFINITY;

/** Knative's per-revision autoscaling annotations (knative.dev/docs serving/autoscaling). */
export const AUTOSCALING_ANNOTATIONS: Readonly<Record<string, Check>> = {
  class: oneOf('kpa.autoscaling.knative.dev', 'hpa.autoscaling.knative.dev'),
  metric: oneOf('concurrency', 'rps', 'cpu', 'memory'),
  target: positiveNumber(),
  'target-utilization-percentage': numberIn(1, 100),
  'target-burst-capacity': numberIn(0, UNBOUNDED, { allow: [-1] }),
  'min-scale': numberIn(0, UNBOUNDED, { integer: true }),
  'max-scale': numberIn(0, UNBOUNDED, { integer: true }),
  minScale: numberIn(0, UNBOUNDED, { integer: true }),
  maxScale: numberIn(0, UNBOUNDED, { integer: true }),
  'initial-scale': numberIn(0, UNBOUNDED, { integer: true }),
  'activation-scale': numberIn(1, UNBOUNDED, { integer: true }),
  window: duration(6, 3600),
  'panic-window-percentage': numberIn(1, 100),
  'panic-threshold-percentage': numberIn(110, 1000),
  'scale-down-delay': duration(0, 3600),
  'scale-to-zero-pod-retention-period': duration(0, UNBOUNDED),
};

/** Deprecated spellings Knative still reads, and what replaces them. */
const AUTOSCALING_ALIASES: Readonly<Record<string, string>> = { minScale: 'min-scale', maxScale: 'max-scale' };

/** KServe's InferenceService annotations (values checked where KServe restricts them). */
export const KSERVE_ANNOTATIONS: Readonly<Record<string, Check>> = {
  deploymentMode: oneOf('Serverless', 'RawDeployment', 'ModelMesh', 'Standard'),
  autoscalerClass: oneOf('hpa', 'keda', 'external', 'none'),
  'enable-tag-routing': boolean,
  'enable-prometheus-scraping': boolean,
  'enable-metric-aggregation': boolean,
  'enable-auth': boolean,
  'enable-direct-pvc-volume-mount': boolean,
  stop: boolean,
  metric: oneOf('cpu', 'memory'),
  targetUtilizationPercentage: numberIn(1, 100),
  'max-scale': numberIn(0, UNBOUNDED, { integer: true }),
  'storage-initializer-uri': anyString,
  'storage-initializer-sourceuri-internal': anyString,
  'storage-readonly': boolean,
  'storage-spec': boolean,
  'storage-spec-key': anyString,
  'storage-spec-param-overrides': anyString,
  'storage-spec-path': anyString,
  's3-endpoint': anyString,
  's3-usehttps': oneOf('0', '1', 'true', 'false'),
  's3-verifyssl': oneOf('0', '1', 'true', 'false'),
  's3-region': anyString,
  's3-useanoncredential': boolean,
  's3-cabundle': anyString,
  'gcs-credential-file-name': anyString,
  'service-account-name': anyString,
  'local-gateway-target': anyString,
  'modelmesh-enabled': boolean,
  'inferenceservice-controller': anyString,
  'server-type': anyString,
};

/** `autoscaling.sluice.dev/*`: policies beyond the KPA (docs/autoscaling.md). */
export const SLUICE_AUTOSCALING_ANNOTATIONS: Readonly<Record<string, Check>> = {
  'window-algorithm': oneOf('linear', 'weighted-exponential'),
  'keep-warm': oneOf('fixed', 'adaptive'),
  'startup-aware': boolean,
  /** A request that wakes a transformer or explainer wakes its predictor at once too (default true; docs/transformer.md). */
  'wake-predictor': boolean,
};

/** Annotations checked by exact key: how long and how often a new revision may try to become ready. */
const START_ANNOTATIONS: Readonly<Record<string, Check>> = {
  [PROGRESS_DEADLINE_ANNOTATION]: duration(1, 24 * 3600),
  [MAX_START_FAILURES_ANNOTATION]: numberIn(1, 100, { integer: true }),
};

/** How a new revision proves itself: its progress deadline and the start failures it may have. */
export interface StartLimits {
  progressDeadlineMs: number;
  maxStartFailures: number;
}

/** Reads the start limits from (already validated) annotations, with their defaults. */
export function startLimits(annotations: Readonly<Record<string, string>>): StartLimits {
  const deadline = annotations[PROGRESS_DEADLINE_ANNOTATION];
  const failures = annotations[MAX_START_FAILURES_ANNOTATION];
  const seconds = deadline !== undefined ? parseDurationSeconds(deadline) : null;
  return {
    progressDeadlineMs: (seconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS) * 1000,
    maxStartFailures: failures !== undefined && Number.isInteger(Number(failures)) ? Number(failures) : DEFAULT_MAX_START_FAILURES,
  };
}

/** Checks every known annotation's value; `path` prefixes issue paths (e.g. `metadata.annotations`). */
export function checkAnnotations(
  annotations: Readonly<Record<string, unknown>>,
  path = 'metadata.annotations',
): { issues: FieldIssue[]; warnings: string[] } {
  // Visibility, limits, CORS and egress (api/ingress-policy.ts).
  const issues: FieldIssue[] = checkIngressAnnotations(annotations, path);
  const warnings: string[] = [];
  issues.push(...checkAuthAnnotations(annotations, path));
  warnings.push(...authWarnings(annotations, path));
  for (const [key, value] of Object.entries(annotations)) {
    const at = `${path}[${JSON.stringify(key)}]`;
    if (typeof value !== 'string') continue; // reported by the schema as a type error
    const exact = START_ANNOTATIONS[key];
    if (exact !== undefined) {
      const problem = exact(value);
      if (problem !== null) issues.push({ path: at, message: problem });
      continue;
    }
    if (key.startsWith(AUTOSCALING_PREFIX)) {
      const name = key.slice(AUTOSCALING_PREFIX.length);
      const check = AUTOSCALING_ANNOTATIONS[name];
      if (check === undefined) {
        const known = Object.keys(AUTOSCALING_ANNOTATIONS).filter((k) => !(k in AUTOSCALING_ALIASES));
        issues.push({ path: at, message: `unknown autoscaling annotation (known: ${known.join(', ')})` });
        continue;
      }
      const problem = check(value);
      if (problem !== null) issues.push({ path: at, message: problem });
      const replacement = AUTOSCALING_ALIASES[name];
      if (replacement !== undefined) warnings.push(`${at}: deprecated, use ${AUTOSCALING_PREFIX}${replacement}`);
    } else if (key.startsWith(SLUICE_AUTOSCALING_PREFIX)) {
      const check = SLUICE_AUTOSCALING_ANNOTATIONS[key.slice(SLUICE_AUTOSCALING_PREFIX.length)];
      if (check === undefined) {
        issues.push({ path: at, message: `unknown Sluice autoscaling annotation (known: ${Object.keys(SLUICE_AUTOSCALING_ANNOTATIONS).join(', ')})` });
        continue;
      }
      const problem = check(value);
      if (problem !== null) issues.push({ path: at, message: problem });
    } else if (key.startsWith(KSERVE_PREFIX)) {
      const check = KSERVE_ANNOTATIONS[key.slice(KSERVE_PREFIX.length)];
      if (check === undefined) {
        warnings.push(`${at}: unknown serving.kserve.io annotation, ignored by Sluice`);
        continue;
      }
      const problem = check(value);
      if (problem !== null) issues.push({ path: at, message: problem });
    }
  }
  return { issues, warnings };
}

/** The `autoscaling.knative.dev/*` annotations only, for the serving hash. */
export function autoscalingAnnotations(annotations: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(annotations).sort()) {
    if (key.startsWith(AUTOSCALING_PREFIX) || key.startsWith(SLUICE_AUTOSCALING_PREFIX)) out[key] = annotations[key] as string;
  }
  return out;
}
