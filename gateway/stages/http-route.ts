const V1 = /^\/v1\/models\/[^/:]+(:[a-z]+)?$/;
const V2 = /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?(\/[a-z_]+)?$/;

/**
 * The low-cardinality route of an inference path, for span names and `http.route` (OTel HTTP semantic
 * conventions): `/v1/models/{model}:predict`, `/v2/models/{model}/infer`, `/v2/models/{model}/versions/{version}/infer`.
 * Any other path has no route (null): its span is named by the method alone, as the conventions ask.
 */
export function httpRoute(path: string): string | null {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  let m = V1.exec(p);
  if (m) return `/v1/models/{model}${m[1] ?? ''}`;
  m = V2.exec(p);
  if (m) return `/v2/models/{model}${m[1] ? '/versions/{version}' : ''}${m[2] ?? ''}`;
  return null;
}
