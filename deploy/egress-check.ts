import type { InferenceService } from '../api/inferenceservice.js';
import { JWT_JWKS_URL_ANNOTATION } from '../api/auth-policy.js';
import { checkEgress } from '../core/egress.js';

/**
 * The URLs an InferenceService makes Sluice call, checked against `egressAllow` (core/egress.ts): the storage URIs
 * fetched by the local backend or the storage initializer (`model.storageUri`, a custom container's `STORAGE_URI`),
 * the request logger's sink (`logger.url`; a `file:` sink is local and not egress), per component, and the JWKS
 * the gateway fetches for JWT auth (`sluice.dev/auth-jwt-jwks-url`). A refused one is a ValidationError naming its
 * field.
 */
export function checkStorageEgress(isvc: InferenceService, allow: readonly string[]): void {
  if (allow.length === 0) return;
  const jwks = isvc.metadata.annotations?.[JWT_JWKS_URL_ANNOTATION];
  if (jwks) checkEgress(jwks, `metadata.annotations["${JWT_JWKS_URL_ANNOTATION}"]`, allow);
  for (const component of ['predictor', 'transformer', 'explainer'] as const) {
    const spec = (isvc.spec as Record<string, unknown>)[component] as
      | { model?: { storageUri?: string }; logger?: { url?: string }; containers?: Array<{ env?: Array<{ name: string; value?: string }> }> }
      | undefined;
    if (spec === undefined) continue;
    const uri = spec.model?.storageUri;
    if (uri) checkEgress(uri, `spec.${component}.model.storageUri`, allow);
    const sink = spec.logger?.url;
    if (sink && !sink.startsWith('file:')) checkEgress(sink, `spec.${component}.logger.url`, allow);
    spec.containers?.forEach((c, i) =>
      c.env?.forEach((e, j) => {
        if (e.name === 'STORAGE_URI' && e.value) checkEgress(e.value, `spec.${component}.containers[${i}].env[${j}].value`, allow);
      }),
    );
  }
}
