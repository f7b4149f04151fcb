/**
 * Defaulting, as KServe's webhook + controller do it: namespace `default` (done by the schema), and for a
 * `model` predictor the resolved runtime and protocolVersion written into the spec (what
 * `sluice apply --dry-run` prints).
 */
import { resolveRuntime } from './runtime-selection.js';
import type { RuntimeCatalogue } from './runtime-catalogue.js';
import type { InferenceService } from '../api/inferenceservice.js';

/** A copy of `isvc` with spec.predictor.model.runtime and .protocolVersion filled in. Throws ValidationError. */
export function defaultInferenceService(isvc: InferenceService, catalogue: RuntimeCatalogue): InferenceService {
  const copy = structuredClone(isvc);
  copy.metadata.namespace = copy.metadata.namespace || 'default';
  const model = copy.spec.predictor.model;
  if (model !== undefined) {
    const resolved = resolveRuntime(model, copy.metadata.namespace, catalogue);
    model.runtime = resolved.runtime.metadata.name;
    model.protocolVersion = resolved.protocolVersion;
  }
  return copy;
}
