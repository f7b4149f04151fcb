/**
 * The binary tensor data extension of the Open Inference Protocol (Triton's and MLServer's `binary_tensor_data`):
 * a request whose `Inference-Header-Content-Length: N` says its first N bytes are the JSON header and the rest
 * the raw little-endian data of the inputs that carry `parameters.binary_data_size`, in order; and the answer in
 * the same form when the request asks for it (`parameters.binary_data_output`, or an `outputs[]` entry with
 * `parameters.binary_data`). tritonclient's HTTP client uses both by default.
 */
import { BadPayload } from './inference-payloads.js';

export const HEADER_LENGTH = 'inference-header-content-length';

const SIZES: Record<string, number> = { BOOL: 1, INT8: 1, UINT8: 1, INT16: 2, UINT16: 2, FP16: 2, INT32: 4, UINT32: 4, FP32: 4, INT64: 8, UINT64: 8, FP64: 8 };

function readValues(buf: Buffer, datatype: string, where: string): number[] {
  const size = SIZES[datatype];
  if (size === undefined || datatype === 'FP16' || datatype === 'BOOL') throw new BadPayload(`${where}: binary data of datatype ${datatype} is not supported by this model`);
  if (buf.length % size !== 0) throw new BadPayload(`${where}: ${buf.length} bytes is not a whole number of ${datatype} values`);
  const out: number[] = [];
  for (let o = 0; o < buf.length; o += size) {
    switch (datatype) {
      case 'INT8': out.push(buf.readInt8(o)); break;
      case 'UINT8': out.push(buf.readUInt8(o)); break;
      case 'INT16': out.push(buf.readInt16LE(o)); break;
      case 'UINT16': out.push(buf.readUInt16LE(o)); break;
      case 'INT32': out.push(buf.readInt32LE(o)); break;
      case 'UINT32': out.push(buf.readUInt32LE(o)); break;
      case 'FP32': out.push(buf.readFloatLE(o)); break;
      case 'INT64': out.push(Number(buf.readBigInt64LE(o))); break;
      case 'UINT64': out.push(Number(buf.readBigUInt64LE(o))); break;
      default: out.push(buf.readDoubleLE(o));
    }
  }
  return out;
}

/**
 * The JSON body of a v2 request, with binary input data decoded into `data` lists; `headerLength` is the
 * request's Inference-Header-Content-Length (undefined: a plain JSON body).
 */
export function decodeInferBody(body: Buffer, headerLength: string | undefined): unknown {
  if (headerLength === undefined) return parseJson(body.toString('utf8'));
  const n = Number(headerLength);
  if (!Number.isInteger(n) || n < 0 || n > body.length) throw new BadPayload(`Inference-Header-Content-Length: ${JSON.stringify(headerLength)} is not a length within the ${body.length}-byte body`);
  const doc = parseJson(body.subarray(0, n).toString('utf8'));
  let at = n;
  const inputs = (doc as { inputs?: unknown }).inputs;
  if (Array.isArray(inputs)) {
    inputs.forEach((input: unknown, i) => {
      const t = input as { parameters?: Record<string, unknown>; datatype?: unknown; data?: unknown };
      const size = t?.parameters?.['binary_data_size'];
      if (size === undefined) return;
      if (!Number.isInteger(size) || (size as number) < 0 || at + (size as number) > body.length)
        throw new BadPayload(`inputs[${i}].parameters.binary_data_size: ${JSON.stringify(size)} is past the end of the body`);
      t.data = readValues(body.subarray(at, at + (size as number)), String(t.datatype), `inputs[${i}]`);
      at += size as number;
    });
  }
  if (at !== body.length) throw new BadPayload(`the body has ${body.length - at} bytes after the binary input data`);
  return doc;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadPayload(`Unrecognized request format: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The request asks for the output `name` as binary data. */
export function wantsBinary(body: unknown, name: string): boolean {
  const o = body as { parameters?: Record<string, unknown>; outputs?: unknown };
  if (Array.isArray(o.outputs)) {
    const out = o.outputs.find((x: unknown) => (x as { name?: unknown })?.name === name) as { parameters?: Record<string, unknown> } | undefined;
    if (out !== undefined) return out.parameters?.['binary_data'] === true;
  }
  return o.parameters?.['binary_data_output'] === true;
}

/** An INT64 output as a binary answer: the JSON header and the raw data after it. */
export function binaryAnswer(header: { outputs: Array<{ name: string; shape: number[]; datatype: string; data?: number[]; parameters?: Record<string, unknown> }> } & Record<string, unknown>): { body: Buffer; headerLength: number } {
  const chunks: Buffer[] = [];
  for (const o of header.outputs) {
    const data = o.data ?? [];
    const b = Buffer.alloc(8 * data.length);
    data.forEach((v, k) => b.writeBigInt64LE(BigInt(v), 8 * k));
    delete o.data;
    o.parameters = { ...o.parameters, binary_data_size: b.length };
    chunks.push(b);
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  return { body: Buffer.concat([json, ...chunks]), headerLength: json.length };
}
