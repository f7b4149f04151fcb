import type { ServeConfig } from './config.js';
import { ValidationError, type FieldIssue } from './errors.js';

/** The samplers of the OpenTelemetry SDK specification (`OTEL_TRACES_SAMPLER`). */
export const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type SamplerName = (typeof SAMPLERS)[number];

/** KServe's default for `spec.tracing` (and ours): a parent-based ratio of 5 %. */
export const DEFAULT_SAMPLER: SamplerName = 'parentbased_traceidratio';
export const DEFAULT_SAMPLER_RATIO = 0.05;
export const DEFAULT_SERVICE_NAME = 'sluice';

/** Tracing as resolved from Sluice's settings and the standard `OTEL_*` variables; null when it is off. */
export interface TracingSettings {
  /** Full OTLP/HTTP traces URL (`…/v1/traces`). */
  endpoint: string;
  headers: Record<string, string>;
  sampler: SamplerName;
  /** Ratio for the `*traceidratio` samplers, 0–1. */
  ratio: number;
  serviceName: string;
  /** Extra resource attributes (`OTEL_RESOURCE_ATTRIBUTES`). */
  resourceAttributes: Record<string, string>;
  exportTimeoutMs: number;
  maxQueueSize: number;
}

type TracingConfig = Pick<
  ServeConfig,
  'tracingEndpoint' | 'tracingHeaders' | 'tracingSampler' | 'tracingSamplerRatio' | 'tracingServiceName' | 'tracingExportTimeoutSeconds' | 'tracingMaxQueueSize'
>;

/** `k=v,k2=v2` (values may be percent-encoded, as the OTel spec allows) into a record; bad pairs are issues. */
function pairs(text: string, where: string, issues: FieldIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const key = eq > 0 ? part.slice(0, eq).trim() : '';
    if (!key) {
      issues.push({ path: where, message: `"${part.trim()}" is not a name=value pair` });
      continue;
    }
    let value = part.slice(eq + 1).trim();
    try {
      value = decodeURIComponent(value);
    } catch {
      // Not percent-encoded after all: keep it as written.
    }
    out[key] = value;
  }
  return out;
}

/** A base URL (no path) gets the OTLP traces path, as the OTel spec says for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
function tracesUrl(base: string): string {
  const u = new URL(base);
  if (u.pathname === '' || u.pathname === '/') return `${base.replace(/\/+$/, '')}/v1/traces`;
  return base;
}

function env(e: NodeJS.ProcessEnv, name: string): string {
  return (e[name] ?? '').trim();
}

/**
 * Tracing's settings: a Sluice setting that is set wins; an empty one falls back to the standard OpenTelemetry
 * variable, then to the default. Off (null) when no endpoint is set anywhere, when `OTEL_SDK_DISABLED=true`, or
 * `OTEL_TRACES_EXPORTER=none`. A bad `OTEL_*` value, or a protocol other than http/protobuf, is an error naming the
 * variable (the SDK would only warn, and a user would wonder where the spans went).
 */
export function resolveTracingSettings(cfg: TracingConfig, e: NodeJS.ProcessEnv): TracingSettings | null {
  const issues: FieldIssue[] = [];
  if (env(e, 'OTEL_SDK_DISABLED').toLowerCase() === 'true') return null;
  const exporter = env(e, 'OTEL_TRACES_EXPORTER');
  if (exporter === 'none') return null;
  if (exporter !== '' && exporter !== 'otlp')
    issues.push({ path: `OTEL_TRACES_EXPORTER=${exporter}`, message: 'Sluice exports spans over OTLP only: set otlp or none' });

  let endpoint = '';
  if (cfg.tracingEndpoint) endpoint = tracesUrl(cfg.tracingEndpoint);
  else if (env(e, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')) endpoint = env(e, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  else if (env(e, 'OTEL_EXPORTER_OTLP_ENDPOINT')) endpoint = `${env(e, 'OTEL_EXPORTER_OTLP_ENDPOINT').replace(/\/+$/, '')}/v1/traces`;
  if (endpoint === '') {
    if (issues.length) throw new ValidationError(issues, 'invalid tracing configuration');
    return null;
  }
  if (!/^https?:\/\/[^\s]+$/.test(endpoint) || !URL.canParse(endpoint))
    issues.push({ path: cfg.tracingEndpoint ? `tracingEndpoint` : 'OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT', message: `"${endpoint}" is not an http:// or https:// URL` });

  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const p = env(e, name);
    if (p !== '' && p !== 'http/protobuf') {
      issues.push({ path: `${name}=${p}`, message: 'Sluice exports OTLP over HTTP with protobuf bodies only: set http/protobuf (grpc and http/json are not supported)' });
      break;
    }
    if (p !== '') break;
  }

  const headers = cfg.tracingHeaders
    ? pairs(cfg.tracingHeaders, 'tracingHeaders', issues)
    : env(e, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS')
      ? pairs(env(e, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'), 'OTEL_EXPORTER_OTLP_TRACES_HEADERS', issues)
      : pairs(env(e, 'OTEL_EXPORTER_OTLP_HEADERS'), 'OTEL_EXPORTER_OTLP_HEADERS', issues);

  let sampler: SamplerName = DEFAULT_SAMPLER;
  const samplerText = cfg.tracingSampler || env(e, 'OTEL_TRACES_SAMPLER');
  if (samplerText) {
    if ((SAMPLERS as readonly string[]).includes(samplerText)) sampler = samplerText as SamplerName;
    else issues.push({ path: cfg.tracingSampler ? 'tracingSampler' : `OTEL_TRACES_SAMPLER=${samplerText}`, message: `must be one of ${SAMPLERS.join(', ')}` });
  }
  let ratio = DEFAULT_SAMPLER_RATIO;
  const ratioText = cfg.tracingSamplerRatio || env(e, 'OTEL_TRACES_SAMPLER_ARG');
  if (ratioText) {
    const r = Number(ratioText);
    if (Number.isFinite(r) && r >= 0 && r <= 1) ratio = r;
    else issues.push({ path: cfg.tracingSamplerRatio ? 'tracingSamplerRatio' : `OTEL_TRACES_SAMPLER_ARG=${ratioText}`, message: 'must be a ratio from 0 to 1' });
  }

  const resourceAttributes = pairs(env(e, 'OTEL_RESOURCE_ATTRIBUTES'), 'OTEL_RESOURCE_ATTRIBUTES', issues);
  const serviceName = cfg.tracingServiceName || env(e, 'OTEL_SERVICE_NAME') || resourceAttributes['service.name'] || DEFAULT_SERVICE_NAME;
  if (issues.length) throw new ValidationError(issues, 'invalid tracing configuration');
  return {
    endpoint,
    headers,
    sampler,
    ratio,
    serviceName,
    resourceAttributes,
    exportTimeoutMs: cfg.tracingExportTimeoutSeconds * 1000,
    maxQueueSize: cfg.tracingMaxQueueSize,
  };
}
