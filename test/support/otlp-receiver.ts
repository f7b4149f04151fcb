/**
 * An OTLP/HTTP trace receiver for tests: `POST /v1/traces` with a protobuf body, decoded with the official
 * OpenTelemetry proto definitions (test/support/otlp-proto, opentelemetry-proto v1.9.0) by @grpc/proto-loader.
 * It can also hang (accept and never answer) to play a collector that is stuck.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { SLUICE_ROOT } from './paths.js';
import { waitUntil } from './wait.js';

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  /** SPAN_KIND_SERVER, SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL, … */
  kind: string;
  attributes: Record<string, string | number | boolean>;
  /** STATUS_CODE_UNSET | STATUS_CODE_OK | STATUS_CODE_ERROR */
  status: string;
  statusMessage: string;
  startNs: bigint;
  endNs: bigint;
  /** The resource's attributes (service.name, …). */
  resource: Record<string, string | number | boolean>;
}

interface AnyValue {
  value?: 'stringValue' | 'intValue' | 'boolValue' | 'doubleValue';
  stringValue?: string;
  intValue?: string;
  boolValue?: boolean;
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface DecodedSpan {
  traceId: Buffer;
  spanId: Buffer;
  parentSpanId: Buffer;
  name: string;
  kind: string;
  attributes: KeyValue[];
  status?: { code: string; message: string };
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}
interface ExportRequest {
  resourceSpans: { resource?: { attributes: KeyValue[] }; scopeSpans: { spans: DecodedSpan[] }[] }[];
}

const PROTO_ROOT = join(SLUICE_ROOT, 'test', 'support', 'otlp-proto');

const PROTO_OPTIONS = { includeDirs: [PROTO_ROOT], longs: String, enums: String, defaults: true, oneofs: true };

let decoder: ((buf: Buffer) => ExportRequest) | null = null;

/** ExportTraceServiceRequest from its protobuf bytes, with the official .proto files. */
export function decodeExportRequest(buf: Buffer): ExportRequest {
  if (!decoder) {
    const def = loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', PROTO_OPTIONS);
    const service = def['opentelemetry.proto.collector.trace.v1.TraceService'] as unknown as Record<string, MethodDefinition<ExportRequest, unknown>>;
    const method = service.Export!;
    decoder = (b) => method.requestDeserialize(b);
  }
  return decoder(buf);
}

function attrs(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of list ?? []) {
    const v = kv.value;
    if (!v?.value) continue;
    const x = v[v.value];
    out[kv.key] = v.value === 'intValue' ? Number(x) : (x as string | number | boolean);
  }
  return out;
}

/** The spans of an export request, flattened with their resource's attributes. */
export function spansOf(decoded: ExportRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of decoded.resourceSpans) {
    const resource = attrs(rs.resource?.attributes);
    for (const ss of rs.scopeSpans)
      for (const s of ss.spans)
        out.push({
          traceId: s.traceId.toString('hex'),
          spanId: s.spanId.toString('hex'),
          parentSpanId: s.parentSpanId.toString('hex'),
          name: s.name,
          kind: s.kind,
          attributes: attrs(s.attributes),
          status: s.status?.code ?? 'STATUS_CODE_UNSET',
          statusMessage: s.status?.message ?? '',
          startNs: BigInt(s.startTimeUnixNano),
          endNs: BigInt(s.endTimeUnixNano),
          resource,
        });
  }
  return out;
}

/**
 * An OTLP/gRPC trace receiver (TraceService/Export) on 127.0.0.1, from the same official protos: for runtimes
 * whose SDK exports over gRPC (MLServer's tracing does).
 */
export class OtlpGrpcReceiver {
  readonly spans: ReceivedSpan[] = [];

  private constructor(
    private readonly server: import('@grpc/grpc-js').Server,
    /** `127.0.0.1:<port>`, as gRPC exporters take it. */
    readonly address: string,
  ) {}

  static async start(): Promise<OtlpGrpcReceiver> {
    const grpc = await import('@grpc/grpc-js');
    const def = loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', PROTO_OPTIONS);
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      opentelemetry: { proto: { collector: { trace: { v1: { TraceService: { service: import('@grpc/grpc-js').ServiceDefinition } } } } } };
    };
    const server = new grpc.Server();
    let self: OtlpGrpcReceiver | null = null;
    server.addService(pkg.opentelemetry.proto.collector.trace.v1.TraceService.service, {
      Export: (call: { request: ExportRequest }, done: (err: null, answer: object) => void) => {
        self!.spans.push(...spansOf(call.request));
        done(null, {});
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    self = new OtlpGrpcReceiver(server, `127.0.0.1:${port}`);
    return self;
  }

  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }
}

export type ReceiverMode = 'ok' | 'hang';

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Export requests received (answered or not). */
  requests = 0;
  /** Content types seen. */
  readonly contentTypes = new Set<string>();
  mode: ReceiverMode = 'ok';
  private readonly hung: ServerResponse[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(mode: ReceiverMode = 'ok'): Promise<OtlpReceiver> {
    let self: OtlpReceiver | null = null;
    const server = createServer((req, res) => self!.handle(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    self = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    self.mode = mode;
    return self;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    this.requests++;
    this.contentTypes.add(req.headers['content-type'] ?? '');
    if (this.mode === 'hang') {
      // Reads nothing and never answers: the exporter's timeout must end it.
      this.hung.push(res);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.spans.push(...spansOf(decodeExportRequest(Buffer.concat(chunks))));
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  /** Waits until `pred` holds for the spans of `traceId` (exports are batched: up to a second or so). */
  async waitForTrace(traceId: string, pred: (spans: ReceivedSpan[]) => boolean, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
    return waitUntil(`spans of trace ${traceId}`, () => pred(this.trace(traceId)) && this.trace(traceId), timeoutMs);
  }

  async close(): Promise<void> {
    for (const r of this.hung) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
