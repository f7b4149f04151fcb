/**
 * Randomized mixes of v1 and v2 inference requests for the batcher's tests: 1–8 rows each, several datatypes,
 * data flat or nested, with and without ids and parameters, and some that must not be merged (other members,
 * rank-1 tensors, shapes that do not match their data, widths the model refuses, bodies that are not JSON).
 */

import { seededRandom } from '../../autoscaler/simulator/synthetic.js';

export interface MixRequest {
  path: string;
  body: string;
  contentType: string;
  /** The caller's v2 id, when it sent one (an answer without it cannot be compared on `id`). */
  id: string | null;
  kind: string;
}

/** A small seeded generator (the simulator's mulberry32), so a failing mix can be replayed. */
export const seeded: (seed: number) => () => number = seededRandom;

export interface MixOptions {
  /** Model name in paths. */
  model: string;
  /** Features per row the model takes. */
  width: number;
  /** v2 input name. */
  inputName: string;
  /** Datatypes to draw from (the first is the model's own). */
  datatypes: readonly string[];
  /** Also draw requests the model refuses (400), and requests that must go alone. */
  incompatible: boolean;
  /** With `incompatible`, also requests the model refuses (default true). */
  refused?: boolean;
  /** Offer v1 at all. */
  v1?: boolean;
  /** Offer v2 at all. */
  v2?: boolean;
}

export function mixRequest(rnd: () => number, i: number, o: MixOptions): MixRequest {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const rows = 1 + Math.floor(rnd() * 8);
  const value = (int: boolean): number => (int ? Math.floor(rnd() * 8) : Math.round(rnd() * 80) / 10);
  const row = (w: number, int = false): number[] => Array.from({ length: w }, () => value(int));
  const v1Path = `/v1/models/${o.model}:predict`;
  const v2Path = `/v2/models/${o.model}/infer`;
  const json = 'application/json';
  const useV1 = o.v1 !== false && (o.v2 === false || rnd() < 0.5);
  const odd = o.incompatible && rnd() < 0.15;
  if (useV1) {
    const instances = Array.from({ length: rows }, () => row(o.width));
    if (odd) {
      const which = pick(['width', 'inputs', 'empty', 'not_json', 'params']);
      if (which === 'width') return { path: v1Path, body: JSON.stringify({ instances: Array.from({ length: rows }, () => row(o.width - 1)) }), contentType: json, id: null, kind: 'v1-width' };
      if (which === 'inputs') return { path: v1Path, body: JSON.stringify({ inputs: instances }), contentType: json, id: null, kind: 'v1-inputs' };
      if (which === 'empty') return { path: v1Path, body: '{"instances": []}', contentType: json, id: null, kind: 'v1-empty' };
      if (which === 'not_json') return { path: v1Path, body: '{"instances": [[1, 2, 3, 4]', contentType: json, id: null, kind: 'v1-not-json' };
      return { path: v1Path, body: JSON.stringify({ instances, parameters: { k: Math.floor(rnd() * 2) } }), contentType: json, id: null, kind: 'v1-params' };
    }
    // Spacing as clients vary it: compact, or Python's `, ` separators.
    const body = rnd() < 0.5 ? JSON.stringify({ instances }) : JSON.stringify({ instances }).replace(/,/g, ', ');
    return { path: v1Path, body, contentType: rnd() < 0.9 ? json : 'application/json; charset=utf-8', id: null, kind: 'v1' };
  }
  const datatype = pick(o.datatypes);
  const int = datatype.startsWith('INT') || datatype.startsWith('UINT');
  const data2d = Array.from({ length: rows }, () => row(o.width, int));
  const nested = rnd() < 0.5;
  const id = rnd() < 0.9 ? `req-${i}` : null;
  const input: Record<string, unknown> = { name: o.inputName, shape: [rows, o.width], datatype, data: nested ? data2d : data2d.flat() };
  const body: Record<string, unknown> = {};
  if (id !== null) body['id'] = id;
  body['inputs'] = [input];
  let kind = 'v2';
  if (rnd() < 0.1) {
    body['parameters'] = { tag: pick(['a', 'b']) };
    kind = 'v2-params';
  }
  if (odd) {
    const which = pick(o.refused === false ? ['rank1'] : ['rank1', 'mismatch', 'datatype', 'width']);
    kind = `v2-${which}`;
    if (which === 'rank1') Object.assign(input, { shape: [o.width], data: row(o.width, int) });
    else if (which === 'mismatch') input['shape'] = [rows + 1, o.width];
    else if (which === 'datatype') input['datatype'] = 'BYTES';
    else Object.assign(input, { shape: [rows, o.width - 1], data: data2d.map((r) => r.slice(1)).flat() });
  }
  return { path: v2Path, body: JSON.stringify(body), contentType: json, id, kind };
}

/** An answer compared as a user reads it: status and JSON (ids compared only when the caller sent one). */
export function comparable(status: number, text: string, id: string | null): unknown {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  if (id === null && body !== null && typeof body === 'object' && 'id' in body) delete (body as Record<string, unknown>)['id'];
  return { status, body };
}
