/**
 * A real `@grpc/grpc-js` client of the OIP gRPC service (test/support/grpc/oip.proto), and the small runtime
 * (oip-server.mjs) the local backend starts as a replica: its ServingRuntime and LocalLaunchRecipe as YAML.
 */
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as loader from '@grpc/proto-loader';
import { SLUICE_ROOT } from '../paths.js';

const PROTO = join(SLUICE_ROOT, 'test', 'support', 'grpc', 'oip.proto');

export interface InferReply {
  model_name: string;
  model_version: string;
  id: string;
  outputs: Array<{ name: string; contents: { fp32_contents: number[] } }>;
}

export interface StreamReply {
  error_message: string;
  infer_response: InferReply;
}



/** An OIP client for `address` (`host:port`); `authority` overrides `:authority` (host routing). */
export function oipClient(address: string, authority?: string, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure()): grpc.Client {
  const def = loader.loadSync(PROTO, { keepCase: true, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const options: grpc.ChannelOptions = authority ? { 'grpc.default_authority': authority } : {};
  return new pkg.inference.GRPCInferenceService(address, credentials, options) as never;
}

export interface UnaryResult<T> {
  err: grpc.ServiceError | null;
  reply: T | null;
  metadata: grpc.Metadata | null;
  trailers: grpc.Metadata | null;
}

/** One unary call, settled with its error or reply, its initial metadata and its trailers. */
export function unary<T>(
  client: grpc.Client,
  method: string,
  request: object,
  o: { metadata?: Record<string, string>; deadlineMs?: number; onCall?: (call: grpc.ClientUnaryCall) => void } = {},
): Promise<UnaryResult<T>> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(o.metadata ?? {})) md.set(k, v);
  const options: grpc.CallOptions = o.deadlineMs === undefined ? {} : { deadline: Date.now() + o.deadlineMs };
  return new Promise((resolve) => {
    let metadata: grpc.Metadata | null = null;
    let trailers: grpc.Metadata | null = null;
    let settled: { err: grpc.ServiceError | null; reply: T | null } | null = null;
    const done = (): void => {
      if (settled && trailers) resolve({ ...settled, metadata, trailers });
    };
    const fn = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>)[method]!.bind(client);
    const call = fn(request, md, options, (err: grpc.ServiceError | null, reply: T | null) => {
      settled = { err, reply };
      done();
    });
    call.on('metadata', (m: grpc.Metadata) => (metadata = m));
    call.on('status', (s: grpc.StatusObject) => {
      trailers = s.metadata;
      done();
    });
    o.onCall?.(call);
  });
}

export function inferRequest(model: string, values: number[], id = ''): object {
  return { model_name: model, id, inputs: [{ name: 'x', datatype: 'FP32', shape: [values.length], contents: { fp32_contents: values } }] };
}

/** The test runtime's ClusterServingRuntime (gRPC port declared as KServe does) and its local recipe. */
export function oipRuntimeYaml(name = 'oip-grpc-test'): string {
  return `apiVersion: serving.kserve.io/v1alpha1
kind: ClusterServingRuntime
metadata:
  name: ${name}
spec:
  supportedModelFormats:
    - name: oip-test
      autoSelect: false
  protocolVersions: [v2, grpc-v2]
  containers:
    - name: kserve-container
      image: sluice/oip-grpc-test:0.1.0
      ports:
        - name: h2c
          containerPort: 8081
          protocol: TCP
---
apiVersion: sluice.dev/v1alpha1
kind: LocalLaunchRecipe
metadata:
  name: ${name}
spec:
  command: "{{node}}"
  args: ["{{sluiceRoot}}/test/support/grpc/oip-server.mjs", "--port", "{{port}}", "--grpc-port", "{{grpcPort}}", "--model-name", "{{modelName}}"]
  env: {}
  readinessPath: /v2/health/ready
  startupTimeoutSeconds: 30
`;
}

/** An InferenceService on the test runtime. */
export function oipService(
  name: string,
  o: { env?: Record<string, string>; predictor?: Record<string, string | number>; annotations?: Record<string, string> } = {},
): string {
  const ann = Object.entries(o.annotations ?? {})
    .map(([k, v]) => `    ${k}: "${v}"`)
    .join('\n');
  const env = Object.entries(o.env ?? {})
    .map(([k, v]) => `        - name: ${k}\n          value: "${v}"`)
    .join('\n');
  const pred = Object.entries({ minReplicas: 0, ...o.predictor })
    .map(([k, v]) => `    ${k}: ${v}`)
    .join('\n');
  return `apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ${name}
${ann ? `  annotations:\n${ann}\n` : ''}spec:
  predictor:
${pred}
    model:
      modelFormat:
        name: oip-test
      runtime: oip-grpc-test
      protocolVersion: v2
${env ? `      env:\n${env}\n` : ''}`;
}
