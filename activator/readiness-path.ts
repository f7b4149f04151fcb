/**
 * The readiness path of a runtime by its protocol, for backends that do not take it from a launch recipe
 * (e.g. Kubernetes endpoints): Open Inference Protocol `/v2/health/ready`, KServe v1 `/v1/models/<name>`,
 * TorchServe `/ping`.
 */
export function readinessPathFor(o: { runtimeName: string; protocolVersion: string; modelName: string }): string {
  if (/torchserve/i.test(o.runtimeName) && o.protocolVersion !== 'v2') return '/ping';
  if (o.protocolVersion === 'v2' || o.protocolVersion === 'grpc-v2') return '/v2/health/ready';
  return `/v1/models/${encodeURIComponent(o.modelName)}`;
}
