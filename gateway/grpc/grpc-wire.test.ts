import { describe, expect, it } from 'vitest';
import { FrameScanner, frameMessage, GrpcStatus, grpcStatusOf, httpStatusOf, parseGrpcTimeout, readModelName, readModelRef, modelProbeCall, encodeGrpcMessage, splitGrpcPath } from './grpc-wire.js';

/** A protobuf message from fields given as [field, wire type, value bytes]. */
function message(...fields: Array<[number, number, Buffer]>): Buffer {
  return Buffer.concat(fields.map(([f, w, v]) => Buffer.concat([Buffer.from([(f << 3) | w]), w === 2 ? Buffer.from([v.length]) : Buffer.alloc(0), v])));
}
const str = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('readModelName', () => {
  it('reads field 1 of the first message', () => {
    const m = frameMessage(message([1, 2, str('iris')], [3, 2, str('req-1')]));
    expect(readModelName(m)).toEqual({ kind: 'name', name: 'iris' });
  });

  it('asks for more bytes until the field is complete, from any split', () => {
    const m = frameMessage(message([1, 2, str('a-longer-model-name')]));
    for (let cut = 0; cut < m.length; cut++) expect(readModelName(m.subarray(0, cut)).kind).toBe('more');
    expect(readModelName(m)).toEqual({ kind: 'name', name: 'a-longer-model-name' });
  });

  it('skips fields written before field 1 by their wire type', () => {
    const m = frameMessage(message([2, 2, str('v1')], [9, 0, Buffer.from([0x96, 0x01])], [8, 5, Buffer.alloc(4)], [10, 1, Buffer.alloc(8)], [1, 2, str('late')]));
    expect(readModelName(m)).toEqual({ kind: 'name', name: 'late' });
  });

  it('says why when there is no name: empty message, compressed, malformed', () => {
    expect(readModelName(frameMessage(Buffer.alloc(0)))).toMatchObject({ kind: 'none', reason: expect.stringContaining('no model name') });
    const compressed = frameMessage(message([1, 2, str('x')]));
    compressed[0] = 1;
    expect(readModelName(compressed)).toMatchObject({ kind: 'none', reason: expect.stringContaining('compressed') });
    expect(readModelName(frameMessage(Buffer.from([0x0f, 0x00])))).toMatchObject({ kind: 'none', reason: expect.stringContaining('not a valid protobuf') });
  });
});

describe('grpc-timeout', () => {
  it('reads every unit, and refuses a malformed value', () => {
    expect(parseGrpcTimeout(undefined)).toBeNull();
    expect(parseGrpcTimeout('2H')).toBe(7_200_000);
    expect(parseGrpcTimeout('3M')).toBe(180_000);
    expect(parseGrpcTimeout('5S')).toBe(5000);
    expect(parseGrpcTimeout('250m')).toBe(250);
    expect(parseGrpcTimeout('1500u')).toBe(1.5);
    expect(parseGrpcTimeout('2000000n')).toBe(2);
    expect(parseGrpcTimeout('123456789m')).toBeNaN();
    expect(parseGrpcTimeout('10')).toBeNaN();
  });
});

describe('FrameScanner', () => {
  it('finds a message over the limit across chunk boundaries, and passes smaller ones', () => {
    const small = frameMessage(Buffer.alloc(10));
    const big = frameMessage(Buffer.alloc(101));
    const stream = Buffer.concat([small, small, big]);
    const s = new FrameScanner(100);
    let found = -1;
    for (let i = 0; i < stream.length && found < 0; i += 3) found = s.scan(stream.subarray(i, i + 3));
    expect(found).toBe(101);
    const ok = new FrameScanner(100);
    expect(ok.scan(Buffer.concat([small, frameMessage(Buffer.alloc(100)), small]))).toBe(-1);
  });
});

describe('statuses and names', () => {
  it('maps the gateway\'s failures to gRPC statuses and back for accounting', () => {
    expect(grpcStatusOf(503, true)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(grpcStatusOf(503)).toBe(GrpcStatus.UNAVAILABLE);
    expect(grpcStatusOf(504)).toBe(GrpcStatus.DEADLINE_EXCEEDED);
    expect(grpcStatusOf(413)).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(grpcStatusOf(401)).toBe(GrpcStatus.UNAUTHENTICATED);
    expect(httpStatusOf(GrpcStatus.OK)).toBe(200);
    expect(httpStatusOf(GrpcStatus.UNAVAILABLE)).toBe(503);
    expect(httpStatusOf(GrpcStatus.INTERNAL)).toBe(500);
  });

  it('percent-encodes grpc-message and splits method paths', () => {
    expect(encodeGrpcMessage('model "x" – 100%')).toBe('model "x" %E2%80%93 100%25');
    expect(splitGrpcPath('/inference.GRPCInferenceService/ModelInfer')).toEqual({ service: 'inference.GRPCInferenceService', method: 'ModelInfer' });
    expect(splitGrpcPath('/nomethod')).toBeNull();
  });
});

describe('readModelRef (ModelReadyRequest, ModelMetadataRequest)', () => {
  it('reads name and version once the whole first message is there, in any field order', () => {
    const m = frameMessage(message([2, 2, str('3')], [7, 0, Buffer.from([1])], [1, 2, str('iris')]));
    for (let cut = 0; cut < m.length; cut++) expect(readModelRef(m.subarray(0, cut)).kind).toBe('more');
    expect(readModelRef(m)).toEqual({ kind: 'ref', name: 'iris', version: '3' });
    expect(readModelRef(frameMessage(message([1, 2, str('iris')])))).toEqual({ kind: 'ref', name: 'iris', version: '' });
  });

  it('gives up (the call is forwarded) on a compressed, oversized or malformed message', () => {
    const plain = frameMessage(message([1, 2, str('iris')]));
    const compressed = Buffer.from(plain);
    compressed[0] = 1;
    expect(readModelRef(compressed).kind).toBe('none');
    const huge = Buffer.alloc(5);
    huge.writeUInt32BE(1 << 20, 1);
    expect(readModelRef(huge).kind).toBe('none');
    expect(readModelRef(frameMessage(Buffer.from([0x0a, 0x09, 0x61])))).toEqual({ kind: 'none' });
  });

  it('knows the OIP probe calls', () => {
    expect(modelProbeCall('inference.GRPCInferenceService', 'ModelReady')).toBe('ready');
    expect(modelProbeCall('inference.GRPCInferenceService', 'ModelMetadata')).toBe('metadata');
    expect(modelProbeCall('inference.GRPCInferenceService', 'ModelInfer')).toBeNull();
    expect(modelProbeCall('other.Service', 'ModelReady')).toBeNull();
  });
});
