import { describe, expect, it } from 'vitest';
import { SERVE_DEFAULTS } from './config.js';
import { resolveTracingSettings } from './tracing-settings.js';

const cfg = (o: Partial<typeof SERVE_DEFAULTS> = {}) => ({ ...SERVE_DEFAULTS, ...o });

describe('tracing settings: Sluice settings, then OTEL_* variables, then defaults', () => {
  it('is off when no endpoint is set anywhere', () => {
    expect(resolveTracingSettings(cfg(), {})).toBeNull();
    expect(resolveTracingSettings(cfg(), { OTEL_TRACES_SAMPLER: 'always_on' })).toBeNull();
  });

  it('defaults to KServe’s parent-based 5 % and service name sluice', () => {
    expect(resolveTracingSettings(cfg({ tracingEndpoint: 'http://collector:4318' }), {})).toEqual({
      endpoint: 'http://collector:4318/v1/traces',
      headers: {},
      sampler: 'parentbased_traceidratio',
      ratio: 0.05,
      serviceName: 'sluice',
      resourceAttributes: {},
      exportTimeoutMs: 10_000,
      maxQueueSize: 2048,
    });
  });

  it('reads the standard variables: a base endpoint gets /v1/traces, a traces endpoint is used as is', () => {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base:4318/',
      OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc,x-tenant=a',
      OTEL_TRACES_SAMPLER: 'traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_SERVICE_NAME: 'edge',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
    };
    expect(resolveTracingSettings(cfg(), env)).toMatchObject({
      endpoint: 'http://base:4318/v1/traces',
      headers: { authorization: 'Bearer abc', 'x-tenant': 'a' },
      sampler: 'traceidratio',
      ratio: 0.25,
      serviceName: 'edge',
      resourceAttributes: { 'deployment.environment': 'prod' },
    });
    expect(resolveTracingSettings(cfg(), { ...env, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://t:4318/custom' })?.endpoint).toBe('https://t:4318/custom');
  });

  it('a Sluice setting wins over its variable', () => {
    const s = resolveTracingSettings(cfg({ tracingEndpoint: 'http://mine:4318/v1/traces', tracingSampler: 'always_on', tracingSamplerRatio: '1', tracingServiceName: 'gw', tracingHeaders: 'a=b' }), {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://theirs:4318',
      OTEL_TRACES_SAMPLER: 'always_off',
      OTEL_TRACES_SAMPLER_ARG: '0',
      OTEL_SERVICE_NAME: 'x',
      OTEL_EXPORTER_OTLP_HEADERS: 'c=d',
    });
    expect(s).toMatchObject({ endpoint: 'http://mine:4318/v1/traces', sampler: 'always_on', ratio: 1, serviceName: 'gw', headers: { a: 'b' } });
  });

  it('OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER=none turn it off', () => {
    expect(resolveTracingSettings(cfg({ tracingEndpoint: 'http://c:4318' }), { OTEL_SDK_DISABLED: 'true' })).toBeNull();
    expect(resolveTracingSettings(cfg({ tracingEndpoint: 'http://c:4318' }), { OTEL_TRACES_EXPORTER: 'none' })).toBeNull();
  });

  it('bad values are errors naming the variable', () => {
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(() => resolveTracingSettings(cfg(), { ...on, OTEL_TRACES_SAMPLER: 'sometimes' })).toThrow(/OTEL_TRACES_SAMPLER=sometimes: must be one of always_on/);
    expect(() => resolveTracingSettings(cfg(), { ...on, OTEL_TRACES_SAMPLER_ARG: '1.5' })).toThrow(/OTEL_TRACES_SAMPLER_ARG=1.5: must be a ratio from 0 to 1/);
    expect(() => resolveTracingSettings(cfg(), { ...on, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' })).toThrow(/OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http\/json/);
    expect(() => resolveTracingSettings(cfg(), { ...on, OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER=zipkin: Sluice exports spans over OTLP only/);
    expect(() => resolveTracingSettings(cfg(), { ...on, OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS: "novalue" is not a name=value pair/);
    expect(() => resolveTracingSettings(cfg(), { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector:4318' })).toThrow(/is not an http/);
  });
});
