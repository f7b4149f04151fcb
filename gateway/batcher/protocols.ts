/**
 * The two JSON protocols the batcher merges, read as spans of the callers' own text (json-spans.ts):
 *
 * - **v1** (`POST /v1/models/<m>:predict`, `{"instances": [...], ...}`): the rows are the elements of
 *   `instances`; every other member must be the same text in every request of a batch. The answer's
 *   `predictions` is split back by rows.
 * - **v2 / Open Inference Protocol** (`POST /v2/models/<m>[/versions/<v>]/infer`): each input tensor is
 *   concatenated along dim 0 by name; requests merge only when they have the same input names in the same order,
 *   the same datatypes, the same inner shapes (shape without dim 0), the same `parameters` and `outputs`, and the
 *   same layout of `data` (flat or nested). Rank-1 inputs are not batched (dim 0 of `[4]` is not a row count).
 *   The answer's outputs are split along dim 0 (shape[0] set back to the caller's rows); each caller's `id` is
 *   put back.
 *
 * Anything else (not JSON, other members, a shape that does not match its data, the binary tensor extension)
 * is a `Solo`: sent alone with its own bytes, and the runtime answers it as it would unbatched.
 */
import { arrayElements, innerOf, objectMembers, replaceSpans, sliceArray, topMembers, type Member, type Span } from './json-spans.js';

/** Why a request is sent alone (the label of `sluice_batcher_alone_total`). */
export type AloneReason =
  | 'not_json'
  | 'not_batchable'
  | 'shape'
  | 'binary_extension'
  | 'content_type'
  | 'content_encoding'
  | 'unknown_length'
  | 'too_large'
  | 'over_max_batch_size'
  | 'too_many_kinds';

export interface Solo {
  alone: AloneReason;
}

/** One caller's request, understood: how many rows, what it can merge with, and the pieces to merge. */
export interface Part {
  protocol: 'v1' | 'v2';
  rows: number;
  /** Requests with equal keys (and the same path and content type) can be merged. */
  key: string;
  text: string;
  /** v1: the `instances` array; v2: unused. */
  instances?: { span: Span; items: Span[] };
  /** v2: the caller's `id` (a JSON string's text), if any. */
  id?: string;
  /** v2: per input (in order): the input object's span, its shape's and data's spans, the data elements. */
  inputs?: Array<{ object: Span; shape: Span; data: Span; dims: number[]; items: Span[]; nested: boolean }>;
  /** v2: the span of `inputs` in `text`. */
  inputsSpan?: Span;
  /** v2: the `id` member, left out of the merged request. */
  idMember?: Member;
}

const V1_PATH = /^\/v1\/models\/[^/?]+:predict(\?|$)/;
const V2_PATH = /^\/v2\/models\/[^/?]+(\/versions\/[^/?]+)?\/infer(\?|$)/;

/** The protocol of a batchable path, or null. */
export function protocolOf(path: string): 'v1' | 'v2' | null {
  if (V1_PATH.test(path)) return 'v1';
  if (V2_PATH.test(path)) return 'v2';
  return null;
}

function raw(s: string, m: Member): string {
  return s.slice(m.start, m.end);
}

function isInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

/** Reads one caller's body (as text) for its protocol. */
export function readPart(protocol: 'v1' | 'v2', text: string): Part | Solo {
  let members: Member[];
  // v1: `instances` is read once, as rows (the largest part of a body: one pass over it).
  let rows: { items: Span[]; width: number } | null = null;
  const scan =
    protocol === 'v1'
      ? (key: string, at: number): number | undefined => {
          if (key !== 'instances' || rows !== null || text.charCodeAt(at) !== 91) return undefined;
          const r = arrayRows(text, at);
          rows = r;
          return r.end;
        }
      : (key: string, at: number): number | undefined => (key === 'inputs' && text.charCodeAt(at) === 91 ? arrayElements(text, at).end : undefined);
  try {
    members = topMembers(text, scan);
  } catch {
    return { alone: 'not_json' };
  }
  return protocol === 'v1' ? readV1(text, members, rows) : readV2(text, members);
}

/** An array's elements and the common length of those that are lists (-1: not all lists; -3: lengths differ). */
function arrayRows(text: string, start: number): { items: Span[]; width: number; end: number } {
  const { items, end } = arrayElements(text, start);
  let width = -2;
  for (const it of items) {
    const w = text.charCodeAt(it.start) === 91 ? countElements(text, it) : -1;
    if (width === -2) width = w;
    else if (w !== width) return { items, width: -3, end };
  }
  return { items, width, end };
}

/** Elements of an already-checked array (its span): counted by the commas at its own depth. */
function countElements(text: string, span: Span): number {
  let depth = 0;
  let n = 0;
  let any = false;
  for (let i = span.start + 1; i < span.end - 1; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // skip a string (already checked): to its closing quote
      i++;
      while (text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1;
      any = true;
    } else if (c === 91 || c === 123) {
      depth++;
      any = true;
    } else if (c === 93 || c === 125) depth--;
    else if (c === 44 && depth === 0) n++;
    else if (c !== 32 && c !== 10 && c !== 13 && c !== 9) any = true;
  }
  return any ? n + 1 : 0;
}

function readV1(text: string, members: Member[], rows: { items: Span[]; width: number } | null): Part | Solo {
  let inst: Member | undefined;
  const others: string[] = [];
  for (const m of members) {
    if (m.key === 'instances' && inst === undefined) inst = m;
    else if (m.key === 'instances' || m.key === 'inputs') return { alone: 'not_batchable' };
    else others.push(`${JSON.stringify(m.key)}:${raw(text, m)}`);
  }
  if (inst === undefined || rows === null) return { alone: 'not_batchable' };
  const { items, width } = rows;
  if (items.length === 0) return { alone: 'not_batchable' };
  // Rows merge only with rows of the same width (a list's length; -1 for rows that are not lists).
  if (width === -3) return { alone: 'shape' };
  return { protocol: 'v1', rows: items.length, key: `v1|${width}|${others.join(',')}`, text, instances: { span: inst, items } };
}

function readV2(text: string, members: Member[]): Part | Solo {
  let id: string | undefined;
  let idMember: Member | undefined;
  let inputsM: Member | undefined;
  const others: string[] = [];
  const seen = new Set<string>();
  for (const m of members) {
    if (seen.has(m.key)) return { alone: 'not_batchable' };
    seen.add(m.key);
    if (m.key === 'id') {
      if (text.charCodeAt(m.start) !== 34) return { alone: 'not_batchable' };
      id = raw(text, m);
      idMember = m;
    } else if (m.key === 'inputs') inputsM = m;
    else others.push(`${JSON.stringify(m.key)}:${raw(text, m)}`);
  }
  if (inputsM === undefined || text.charCodeAt(inputsM.start) !== 91) return { alone: 'not_batchable' };
  const inputEls = arrayElements(text, inputsM.start).items;
  if (inputEls.length === 0) return { alone: 'not_batchable' };
  const inputs: NonNullable<Part['inputs']> = [];
  const keyParts: string[] = [];
  let rows = -1;
  for (const el of inputEls) {
    if (text.charCodeAt(el.start) !== 123) return { alone: 'not_batchable' };
    const { members: fields } = objectMembers(text, el.start);
    let shape: Member | undefined;
    let data: Member | undefined;
    const rest: string[] = [];
    const names = new Set<string>();
    for (const f of fields) {
      if (names.has(f.key)) return { alone: 'not_batchable' };
      names.add(f.key);
      if (f.key === 'shape') shape = f;
      else if (f.key === 'data') data = f;
      else {
        if (f.key === 'parameters' && /"binary_data(_size)?"\s*:/.test(raw(text, f))) return { alone: 'binary_extension' };
        rest.push(`${JSON.stringify(f.key)}:${raw(text, f)}`);
      }
    }
    if (!names.has('name') || !names.has('datatype') || shape === undefined || data === undefined) return { alone: 'not_batchable' };
    const dims = JSON.parse(raw(text, shape)) as unknown;
    if (!Array.isArray(dims) || !dims.every(isInt)) return { alone: 'shape' };
    if (dims.length < 2 || dims[0] === 0) return { alone: 'shape' };
    if (text.charCodeAt(data.start) !== 91) return { alone: 'not_batchable' };
    const items = arrayElements(text, data.start).items;
    const nested = items.length > 0 && text.charCodeAt(items[0]!.start) === 91;
    const total = (dims as number[]).reduce((a, b) => a * b, 1);
    if (nested ? items.length !== dims[0] : items.length !== total) return { alone: 'shape' };
    if (rows === -1) rows = dims[0] as number;
    else if (rows !== dims[0]) return { alone: 'shape' };
    inputs.push({ object: el, shape, data, dims: dims as number[], items, nested });
    rest.sort();
    keyParts.push(`${rest.join(',')}|${JSON.stringify((dims as number[]).slice(1))}|${nested ? 'n' : 'f'}`);
  }
  const part: Part = { protocol: 'v2', rows, key: `v2|${others.join(',')}|${keyParts.join(';')}`, text, inputs, inputsSpan: inputsM };
  if (id !== undefined) part.id = id;
  if (idMember !== undefined) part.idMember = idMember;
  return part;
}

/** The merged request's body of `parts` (all with one key). */
export function mergeBodies(parts: readonly Part[]): string {
  const first = parts[0]!;
  if (first.protocol === 'v1') {
    const joined = parts.map((p) => innerOf(p.text, p.instances!.items)).join(',');
    return replaceSpans(first.text, [{ span: first.instances!.span, with: `[${joined}]` }]);
  }
  const rows = parts.reduce((n, p) => n + p.rows, 0);
  const inputs = first.inputs!.map((inp, k) => {
    const data = parts.map((p) => innerOf(p.text, p.inputs![k]!.items));
    const obj = first.text.slice(inp.object.start, inp.object.end);
    const at = inp.object.start;
    return replaceSpans(obj, [
      { span: { start: inp.shape.start - at, end: inp.shape.end - at }, with: JSON.stringify([rows, ...inp.dims.slice(1)]) },
      { span: { start: inp.data.start - at, end: inp.data.end - at }, with: `[${data.join(',')}]` },
    ]);
  });
  const edits: Array<{ span: Span; with: string }> = [{ span: first.inputsSpan!, with: `[${inputs.join(',')}]` }];
  // The merged request has no id of its own (each caller's is put back in its answer).
  if (first.idMember !== undefined) edits.push({ span: memberWithComma(first.text, first.idMember), with: '' });
  return replaceSpans(first.text, edits);
}

/** A member with the comma that separates it from the next one (or from the previous one, when it is last). */
function memberWithComma(text: string, m: Member): Span {
  let end = m.end;
  while (/\s/.test(text[end] ?? '')) end++;
  if (text[end] === ',') {
    end++;
    while (/\s/.test(text[end] ?? '')) end++;
    return { start: m.memberStart, end };
  }
  let start = m.memberStart - 1;
  while (start > 0 && /\s/.test(text[start]!)) start--;
  return text[start] === ',' ? { start, end: m.end } : { start: m.memberStart, end: m.end };
}

/** The runtime's answer cannot be split for its callers (the reason goes to every caller with a 502). */
export class Unsplittable extends Error {}

/** Each caller's answer body, cut from the runtime's answer `text` to the merged request of `parts`. */
export function splitAnswer(parts: readonly Part[], text: string): string[] {
  const total = parts.reduce((n, p) => n + p.rows, 0);
  let members: Member[];
  try {
    members = topMembers(text);
  } catch {
    throw new Unsplittable('the runtime answered the batch with a body that is not a JSON object');
  }
  return parts[0]!.protocol === 'v1' ? splitV1(parts, text, members, total) : splitV2(parts, text, members, total);
}

function splitV1(parts: readonly Part[], text: string, members: Member[], total: number): string[] {
  const pred = members.find((m) => m.key === 'predictions');
  if (pred === undefined || text.charCodeAt(pred.start) !== 91) throw new Unsplittable('the runtime answered the batch without a "predictions" list');
  const { items } = arrayElements(text, pred.start);
  if (items.length !== total)
    throw new Unsplittable(`the runtime answered ${items.length} predictions for a batch of ${total} instances`);
  let at = 0;
  return parts.map((p) => {
    const out = replaceSpans(text, [{ span: pred, with: sliceArray(text, items, at, at + p.rows) }]);
    at += p.rows;
    return out;
  });
}

function splitV2(parts: readonly Part[], text: string, members: Member[], total: number): string[] {
  const outputsM = members.find((m) => m.key === 'outputs');
  if (outputsM === undefined || text.charCodeAt(outputsM.start) !== 91) throw new Unsplittable('the runtime answered the batch without "outputs"');
  const idM = members.find((m) => m.key === 'id');
  const outputs = arrayElements(text, outputsM.start).items.map((el, k) => {
    if (text.charCodeAt(el.start) !== 123) throw new Unsplittable(`outputs[${k}] is not an object`);
    const fields = objectMembers(text, el.start).members;
    const shape = fields.find((f) => f.key === 'shape');
    const data = fields.find((f) => f.key === 'data');
    if (shape === undefined || data === undefined) throw new Unsplittable(`outputs[${k}] has no shape or no data`);
    const dims = JSON.parse(raw(text, shape)) as unknown;
    if (!Array.isArray(dims) || !dims.every(isInt) || dims.length === 0 || dims[0] !== total)
      throw new Unsplittable(`outputs[${k}].shape ${raw(text, shape)} does not start with the batch's ${total} rows`);
    if (text.charCodeAt(data.start) !== 91) throw new Unsplittable(`outputs[${k}].data is not a list`);
    const items = arrayElements(text, data.start).items;
    const inner = (dims as number[]).slice(1).reduce((a, b) => a * b, 1);
    const nested = dims.length > 1 && items.length === total && items.length > 0 && text.charCodeAt(items[0]!.start) === 91;
    const perRow = nested ? 1 : inner;
    if (items.length !== total * perRow) throw new Unsplittable(`outputs[${k}].data has ${items.length} values for shape ${raw(text, shape)}`);
    return { el, shape, data, dims: dims as number[], items, perRow };
  });
  let at = 0;
  return parts.map((p) => {
    const outs = outputs.map((o) => {
      const obj = text.slice(o.el.start, o.el.end);
      const base = o.el.start;
      return replaceSpans(obj, [
        { span: { start: o.shape.start - base, end: o.shape.end - base }, with: JSON.stringify([p.rows, ...o.dims.slice(1)]) },
        { span: { start: o.data.start - base, end: o.data.end - base }, with: sliceArray(text, o.items, at * o.perRow, (at + p.rows) * o.perRow) },
      ]);
    });
    at += p.rows;
    const edits: Array<{ span: Span; with: string }> = [{ span: outputsM, with: `[${outs.join(', ')}]` }];
    if (idM !== undefined && p.id !== undefined) edits.push({ span: idM, with: p.id });
    return replaceSpans(text, edits);
  });
}
