/**
 * What the gateway reads and writes of the gRPC wire without decoding messages: status codes, the `grpc-timeout`
 * header, the length-prefixed message frames (5-byte header: compressed flag, 32-bit big-endian length), the
 * model name of an OIP request (its first protobuf field), and the few tiny responses the gateway answers itself
 * (`ServerLive`, `ServerReady`, `ServerMetadata`, the health check). Pure functions; no I/O.
 */

/** gRPC status codes the gateway sends (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The OIP (KServe v2) gRPC service. */
export const OIP_SERVICE = 'inference.GRPCInferenceService';

/**
 * The gRPC status for an HTTP status the gateway's shared parts produce (the activator's 503/504/413, a stage's
 * refusal), after gRPC's own HTTP-to-gRPC mapping where it has one and the meaning where it does not:
 * a full hold queue (503 with Retry-After) and a body over a bound (413) are RESOURCE_EXHAUSTED.
 */
export function grpcStatusOf(httpStatus: number, retryAfter = false): number {
  switch (httpStatus) {
    case 400:
      return GrpcStatus.INVALID_ARGUMENT;
    case 401:
      return GrpcStatus.UNAUTHENTICATED;
    case 403:
      return GrpcStatus.PERMISSION_DENIED;
    case 404:
      return GrpcStatus.NOT_FOUND;
    case 408:
    case 504:
      return GrpcStatus.DEADLINE_EXCEEDED;
    case 413:
    case 429:
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 499:
      return GrpcStatus.CANCELLED;
    case 501:
      return GrpcStatus.UNIMPLEMENTED;
    case 503:
      return retryAfter ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.UNAVAILABLE;
    case 502:
      return GrpcStatus.UNAVAILABLE;
    default:
      return httpStatus >= 500 ? GrpcStatus.INTERNAL : GrpcStatus.UNKNOWN;
  }
}

/**
 * The HTTP-like status a gRPC call is counted under (metrics, rollout outcomes: 5xx are failures), so one
 * dashboard reads both protocols. Application errors of the model (INVALID_ARGUMENT, NOT_FOUND) count as 4xx.
 */
export function httpStatusOf(grpcStatus: number): number {
  switch (grpcStatus) {
    case GrpcStatus.OK:
      return 200;
    case GrpcStatus.CANCELLED:
      return 499;
    case GrpcStatus.INVALID_ARGUMENT:
    case 9: // FAILED_PRECONDITION
    case 11: // OUT_OF_RANGE
      return 400;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return 504;
    case GrpcStatus.NOT_FOUND:
      return 404;
    case 6: // ALREADY_EXISTS
    case 10: // ABORTED
      return 409;
    case GrpcStatus.PERMISSION_DENIED:
      return 403;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 429;
    case GrpcStatus.UNIMPLEMENTED:
      return 501;
    case GrpcStatus.UNAVAILABLE:
      return 503;
    case GrpcStatus.UNAUTHENTICATED:
      return 401;
    default:
      return 500;
  }
}

const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * `grpc-timeout` in milliseconds (`1-8 digits` then one of H M S m u n), or null when absent; NaN when malformed.
 */
export function parseGrpcTimeout(value: string | string[] | undefined): number | null {
  if (value === undefined) return null;
  const v = Array.isArray(value) ? value[0]! : value;
  const m = /^(\d{1,8})([HMSmun])$/.exec(v.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * TIMEOUT_UNIT_MS[m[2]!]!;
}

/** `grpc-timeout` for `ms` milliseconds left (at least 1 ms). */
export function formatGrpcTimeout(ms: number): string {
  return `${Math.max(1, Math.ceil(ms))}m`;
}

/**
 * Percent-encodes a `grpc-message` as the gRPC spec asks (printable ASCII but `%` as is; everything else as
 * UTF-8 percent-escapes).
 */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    if (byte >= 0x20 && byte <= 0x7e && byte !== 0x25) out += String.fromCharCode(byte);
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The method's service and name from a gRPC `:path` (`/<package.Service>/<Method>`), or null for another path. */
export function splitGrpcPath(path: string): { service: string; method: string } | null {
  const slash = path.indexOf('/', 1);
  if (path.charCodeAt(0) !== 47 || slash <= 1 || slash === path.length - 1) return null;
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** OIP methods whose request carries the model name as field 1 (`model_name` / `name`). */
const MODEL_SCOPED: ReadonlySet<string> = new Set(['ModelInfer', 'ModelReady', 'ModelMetadata', 'ModelStreamInfer', 'ModelConfig', 'ModelStatistics']);

export function isModelScoped(service: string, method: string): boolean {
  return service === OIP_SERVICE && MODEL_SCOPED.has(method);
}

export type ServerLevelCall = 'live' | 'ready' | 'metadata' | 'health';

/** The calls the gateway answers itself at its bare address (no route for the call's `:authority`). */
export function serverLevelCall(service: string, method: string): ServerLevelCall | null {
  if (service === OIP_SERVICE) {
    if (method === 'ServerLive') return 'live';
    if (method === 'ServerReady') return 'ready';
    if (method === 'ServerMetadata') return 'metadata';
    return null;
  }
  if (service === 'grpc.health.v1.Health' && method === 'Check') return 'health';
  return null;
}

/** One gRPC message frame: 5-byte header and the protobuf bytes. */
export function frameMessage(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  while (n > 0x7f) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

/** A length-delimited protobuf field (tag wire type 2). */
function stringField(field: number, value: string): Buffer {
  const v = Buffer.from(value, 'utf8');
  return Buffer.concat([varint((field << 3) | 2), varint(v.length), v]);
}

/** `{ bool live|ready = 1 }` (`ServerLiveResponse`, `ServerReadyResponse`): an empty message is false. */
export function boolResponse(value: boolean): Buffer {
  return value ? Buffer.from([0x08, 0x01]) : Buffer.alloc(0);
}

/** `ServerMetadataResponse { string name = 1; string version = 2; repeated string extensions = 3; }`. */
export function serverMetadataResponse(name: string, version: string, extensions: readonly string[]): Buffer {
  return Buffer.concat([stringField(1, name), stringField(2, version), ...extensions.map((e) => stringField(3, e))]);
}

/** `grpc.health.v1.HealthCheckResponse { ServingStatus status = 1; }`: SERVING = 1, NOT_SERVING = 2. */
export function healthResponse(serving: boolean): Buffer {
  return Buffer.from([0x08, serving ? 0x01 : 0x02]);
}

/** What reading the model name from a request's first bytes found. */
export type ModelNameRead =
  | { kind: 'name'; name: string }
  /** More bytes are needed (the first message's header, or the field, are not complete yet). */
  | { kind: 'more' }
  /** The first message cannot give a name: why, for the client's error. */
  | { kind: 'none'; reason: string };

/** The longest prefix of a first message the gateway reads looking for the model name. */
export const MODEL_NAME_SCAN_BYTES = 64 * 1024;

/**
 * The model name of an OIP request (field 1, a length-delimited string, of its first message), read from the
 * bytes received so far without decoding the message: the fields before it (encoders write field 1 first, but
 * protobuf allows any order) are skipped by their wire type, within the first MODEL_NAME_SCAN_BYTES.
 */
export function readModelName(buf: Buffer): ModelNameRead {
  if (buf.length < 5) return { kind: 'more' };
  if (buf[0] !== 0) return { kind: 'none', reason: 'the first request message is compressed, so its model name cannot be read' };
  const msgLen = buf.readUInt32BE(1);
  const end = 5 + msgLen;
  const avail = Math.min(buf.length, end);
  let i = 5;
  for (;;) {
    if (i >= end) return { kind: 'none', reason: 'the first request message has no model name (field 1 is empty)' };
    if (i - 5 >= MODEL_NAME_SCAN_BYTES) return { kind: 'none', reason: `the model name is not within the first ${MODEL_NAME_SCAN_BYTES} bytes of the request` };
    const tag = readVarint(buf, i, avail);
    if (tag === null) return buf.length >= end ? malformed() : { kind: 'more' };
    i = tag.next;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value & 7;
    if (wire === 0) {
      const v = readVarint(buf, i, avail);
      if (v === null) return buf.length >= end ? malformed() : { kind: 'more' };
      i = v.next;
    } else if (wire === 1) {
      i += 8;
    } else if (wire === 5) {
      i += 4;
    } else if (wire === 2) {
      const len = readVarint(buf, i, avail);
      if (len === null) return buf.length >= end ? malformed() : { kind: 'more' };
      i = len.next;
      if (field === 1) {
        if (i + len.value > end) return malformed();
        if (i + len.value > avail) return { kind: 'more' };
        const name = buf.toString('utf8', i, i + len.value);
        return name ? { kind: 'name', name } : { kind: 'none', reason: 'the first request message has an empty model name' };
      }
      i += len.value;
    } else {
      return malformed();
    }
  }
}

function malformed(): ModelNameRead {
  return { kind: 'none', reason: 'the first request message is not a valid protobuf message' };
}

function readVarint(buf: Buffer, at: number, end: number): { value: number; next: number } | null {
  let value = 0;
  let shift = 0;
  for (let i = at; i < end && shift < 35; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return { value, next: i + 1 };
    shift += 7;
  }
  // Longer varints (64-bit values) are skipped byte by byte.
  if (shift >= 35) {
    for (let i = at + 5; i < end && i < at + 10; i++) if (buf[i]! < 0x80) return { value, next: i + 1 };
  }
  return null;
}

/**
 * Follows the message frames of a stream as its bytes pass (chunk by chunk, no copy) and reports the first
 * message whose declared length is over `limit`. O(messages) per chunk.
 */
export class FrameScanner {
  /** Bytes left of the current frame's header (5..1) or 0 while inside a message body. */
  private headerLeft = 5;
  private header = Buffer.alloc(5);
  private bodyLeft = 0;

  constructor(private readonly limit: number) {}

  /** The declared length of a message over the limit in `chunk`, or -1. */
  scan(chunk: Buffer): number {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const take = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= take;
        i += take;
        continue;
      }
      this.header[5 - this.headerLeft] = chunk[i]!;
      i++;
      if (--this.headerLeft === 0) {
        const len = this.header.readUInt32BE(1);
        if (len > this.limit) return len;
        this.bodyLeft = len;
        this.headerLeft = 5;
      }
    }
    return -1;
  }
}

/** What reading a model probe's request (`ModelReadyRequest`, `ModelMetadataRequest`) found. */
export type ModelRefRead =
  | { kind: 'ref'; name: string; version: string }
  /** The first message is not complete yet. */
  | { kind: 'more' }
  /** It cannot be read (compressed, too large, malformed): the call is forwarded as it is. */
  | { kind: 'none' };

/**
 * `{ string name = 1; string version = 2; }` of the first message, once all of it has arrived (it is a few bytes;
 * at most MODEL_NAME_SCAN_BYTES). Other fields are skipped by their wire type.
 */
export function readModelRef(buf: Buffer): ModelRefRead {
  if (buf.length < 5) return { kind: 'more' };
  if (buf[0] !== 0) return { kind: 'none' };
  const msgLen = buf.readUInt32BE(1);
  if (msgLen > MODEL_NAME_SCAN_BYTES) return { kind: 'none' };
  const end = 5 + msgLen;
  if (buf.length < end) return { kind: 'more' };
  let name = '';
  let version = '';
  let i = 5;
  while (i < end) {
    const tag = readVarint(buf, i, end);
    if (tag === null) return { kind: 'none' };
    i = tag.next;
    const field = Math.floor(tag.value / 8);
    const wire = tag.value & 7;
    if (wire === 0) {
      const v = readVarint(buf, i, end);
      if (v === null) return { kind: 'none' };
      i = v.next;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = readVarint(buf, i, end);
      if (len === null || len.next + len.value > end) return { kind: 'none' };
      i = len.next;
      if (field === 1) name = buf.toString('utf8', i, i + len.value);
      else if (field === 2) version = buf.toString('utf8', i, i + len.value);
      i += len.value;
    } else return { kind: 'none' };
  }
  return i === end ? { kind: 'ref', name, version } : { kind: 'none' };
}

/** The OIP model probe a call is, or null: `ModelReady` and `ModelMetadata` of `inference.GRPCInferenceService`. */
export function modelProbeCall(service: string, method: string): 'ready' | 'metadata' | null {
  if (service !== OIP_SERVICE) return null;
  return method === 'ModelReady' ? 'ready' : method === 'ModelMetadata' ? 'metadata' : null;
}
