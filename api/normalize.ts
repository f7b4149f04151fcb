/**
 * KServe's legacy framework keys (`predictor.sklearn:` …) rewritten to `predictor.model:` the way KServe's
 * defaulting webhook does: modelFormat.name = the framework; `triton` and `onnx` get protocolVersion v2 when none
 * is given (KServe does this for backward compatibility, as Triton speaks only v2).
 */
export const LEGACY_FRAMEWORKS = [
  'sklearn',
  'xgboost',
  'tensorflow',
  'pytorch',
  'triton',
  'onnx',
  'pmml',
  'lightgbm',
  'paddle',
  'huggingface',
] as const;
export type LegacyFramework = (typeof LEGACY_FRAMEWORKS)[number];

const DEFAULT_PROTOCOL: Partial<Record<LegacyFramework, 'v2'>> = { triton: 'v2', onnx: 'v2' };

/** Minimal structural view so this file does not depend on the schema module (no cycle). */
interface LegacyInput {
  protocolVersion?: 'v1' | 'v2' | 'grpc-v1' | 'grpc-v2' | undefined;
}

export function rewriteLegacyPredictor<P extends { model?: unknown }, M>(
  predictor: P,
): Omit<P, LegacyFramework> & { model?: M } {
  const rec = predictor as Record<string, unknown>;
  const key = LEGACY_FRAMEWORKS.find((k) => rec[k] !== undefined);
  if (key === undefined) return predictor as Omit<P, LegacyFramework> & { model?: M };
  const { [key]: legacy, ...rest } = rec;
  const spec = legacy as LegacyInput & Record<string, unknown>;
  const protocol = spec.protocolVersion ?? DEFAULT_PROTOCOL[key];
  const model = {
    modelFormat: { name: key },
    ...spec,
    ...(protocol !== undefined ? { protocolVersion: protocol } : {}),
  };
  return { ...rest, model } as unknown as Omit<P, LegacyFramework> & { model?: M };
}
