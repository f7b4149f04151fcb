import { describe, expect, it } from 'vitest';
import { NotJson, scanValue, topMembers } from './json-spans.js';
import { mergeBodies, protocolOf, readPart, splitAnswer, Unsplittable, type Part } from './protocols.js';

const part = (protocol: 'v1' | 'v2', text: string): Part => {
  const p = readPart(protocol, text);
  if ('alone' in p) throw new Error(`alone: ${p.alone}`);
  return p;
};

describe('json spans', () => {
  it('accepts JSON and refuses what is not (so a splice of accepted pieces is JSON)', () => {
    for (const ok of ['{"a": [1, -2.5e+3, "x\\"y\\u00e9", true, null, {"b": []}]}', ' { } ', '{"k":"\\n"}']) expect(() => topMembers(ok)).not.toThrow();
    for (const bad of ['{"a": [1, 2}', '{"a": 01}', '{"a": 1.}', '{"a": "x}', '{"a": tru}', '{"a": 1} x', '{a: 1}', '{"a": 1,}', '{"a": "\u0001"}', '{"a": +1}'])
      expect(() => topMembers(bad), bad).toThrow(NotJson);
    expect(() => scanValue('['.repeat(100) + ']'.repeat(100), 0)).toThrow(NotJson);
  });
});

describe('protocols', () => {
  it('knows the batchable paths', () => {
    expect(protocolOf('/v1/models/iris:predict')).toBe('v1');
    expect(protocolOf('/v2/models/iris/infer')).toBe('v2');
    expect(protocolOf('/v2/models/iris/versions/3/infer?x=1')).toBe('v2');
    expect(protocolOf('/v1/models/iris:explain')).toBeNull();
    expect(protocolOf('/v2/models/iris')).toBeNull();
  });

  it('v1: merges instances keeping each body\'s own text, and splits predictions back with the runtime\'s separators', () => {
    const a = part('v1', '{"instances": [[1, 2], [3, 4]]}');
    const b = part('v1', '{"instances":[[5,6]]}');
    expect(a.key).toBe(b.key);
    const merged = mergeBodies([a, b]);
    expect(JSON.parse(merged)).toEqual({ instances: [[1, 2], [3, 4], [5, 6]] });
    expect(splitAnswer([a, b], '{"predictions": [0, 1, 2], "model_version": "v"}')).toEqual(['{"predictions": [0, 1], "model_version": "v"}', '{"predictions": [2], "model_version": "v"}']);
    expect(() => splitAnswer([a, b], '{"predictions": [0, 1]}')).toThrow(Unsplittable);
  });

  it('v1: other members and row widths are part of the key; what cannot merge goes alone', () => {
    const k = (t: string) => (readPart('v1', t) as Part).key;
    expect(k('{"instances": [[1, 2]], "parameters": {"a": 1}}')).not.toBe(k('{"instances": [[1, 2]]}'));
    expect(k('{"instances": [[1, 2, 3]]}')).not.toBe(k('{"instances": [[1, 2]]}'));
    expect(readPart('v1', '{"instances": [[1, 2], [1]]}')).toEqual({ alone: 'shape' });
    expect(readPart('v1', '{"inputs": [[1, 2]]}')).toEqual({ alone: 'not_batchable' });
    expect(readPart('v1', '{"instances": []}')).toEqual({ alone: 'not_batchable' });
    expect(readPart('v1', '{"instances": [1, 2')).toEqual({ alone: 'not_json' });
  });

  it('v2: concatenates along dim 0 (flat and nested apart), drops the merged id, and gives each caller its rows, shape and id', () => {
    const t = (id: string, rows: number[][], nested: boolean) =>
      JSON.stringify({ id, inputs: [{ name: 'x', shape: [rows.length, 2], datatype: 'FP32', data: nested ? rows : rows.flat() }] });
    const a = part('v2', t('a', [[1, 2], [3, 4]], false));
    const b = part('v2', t('b', [[5, 6]], false));
    const c = part('v2', t('c', [[5, 6]], true));
    expect(a.key).toBe(b.key);
    expect(a.key).not.toBe(c.key);
    expect(JSON.parse(mergeBodies([a, b]))).toEqual({ inputs: [{ name: 'x', shape: [3, 2], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }] });
    const answer = JSON.stringify({ model_name: 'm', id: 'whatever', outputs: [{ name: 'y', shape: [3, 2], datatype: 'INT64', data: [[1, 1], [2, 2], [3, 3]] }, { name: 'z', shape: [3], datatype: 'FP32', data: [7, 8, 9] }] });
    const [ra, rb] = splitAnswer([a, b], answer).map((s) => JSON.parse(s));
    expect(ra).toEqual({ model_name: 'm', id: 'a', outputs: [{ name: 'y', shape: [2, 2], datatype: 'INT64', data: [[1, 1], [2, 2]] }, { name: 'z', shape: [2], datatype: 'FP32', data: [7, 8] }] });
    expect(rb).toEqual({ model_name: 'm', id: 'b', outputs: [{ name: 'y', shape: [1, 2], datatype: 'INT64', data: [[3, 3]] }, { name: 'z', shape: [1], datatype: 'FP32', data: [9] }] });
    expect(() => splitAnswer([a, b], JSON.stringify({ outputs: [{ name: 'y', shape: [2], datatype: 'FP32', data: [1, 2] }] }))).toThrow(Unsplittable);
  });

  it('v2: datatypes, inner shapes, parameters and binary data decide; rank-1 and mismatched shapes go alone', () => {
    const k = (input: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const p = readPart('v2', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2], ...input }], ...extra }));
      return 'alone' in p ? p.alone : p.key;
    };
    const base = k({});
    expect(k({ datatype: 'FP64' })).not.toBe(base);
    expect(k({ shape: [1, 1, 2], data: [1, 2] })).not.toBe(base);
    expect(k({}, { parameters: { p: 1 } })).not.toBe(base);
    expect(k({}, { outputs: [{ name: 'y' }] })).not.toBe(base);
    expect(k({ name: 'w' })).not.toBe(base);
    expect(k({}, { id: 'q' })).toBe(base);
    expect(k({ shape: [2] })).toBe('shape');
    expect(k({ shape: [2, 2] })).toBe('shape');
    expect(k({ parameters: { binary_data_size: 8 } })).toBe('binary_extension');
    expect(readPart('v2', JSON.stringify({ inputs: [{ name: 'x', shape: [1, 2], datatype: 'FP32', data: [1, 2] }, { name: 'y', shape: [2, 1], datatype: 'FP32', data: [1, 2] }] }))).toEqual({ alone: 'shape' });
  });
});
