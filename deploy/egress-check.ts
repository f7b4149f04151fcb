import type { InferenceService } from '../api/inferenceservice.js';
import { checkEgress } from '../core/egress.js';

/**
 * The storage URIs an InferenceService makes Sluice (the local backend, or the storage initializer in
 * Kubernetes) fetch, checked against `egressAllow` (core/egress.ts): `model.storageUri` and a custom container's
 * `STORAGE_URI`, per component. A refused one is a ValidationError naming its field.
 */
export function checkStorageEgress(isvc: InferenceService, allow: readonly string[]): void {
  if (allow.length === 0) return;
  for (const component of ['predictor', 'transformer'] as const) {
    const spec = (isvc.spec as Record<string, unknown>)[component] as
      | { model?: { storageUri?: string }; containers?: Array<{ env?: Array<{ name: string; value?: string }> }> }
      | undefined;
    if (spec === undefined) continue;
    const uri = spec.model?.storageUri;
    if (uri) checkEgress(uri, `spec.${component}.model.storageUri`, allow);
    spec.containers?.forEach((c, i) =>
      c.env?.forEach((e, j) => {
        if (e.name === 'STORAGE_URI' && e.value) checkEgress(e.value, `spec.${component}.containers[${i}].env[${j}].value`, allow);
      }),
    );
  }
}
