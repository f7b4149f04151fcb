/**
 * Request bodies of KServe v1 (`{"instances": [[...]]}`) and v2 / Open Inference Protocol
 * (`{"inputs": [{name, shape, datatype, data}]}`), checked into rows of `width` numbers.
 * Every problem is a BadPayload whose message names the offending field.
 */
export class BadPayload extends Error {
  override readonly name = 'BadPayload';
}

const MAX_ROWS = 10_000;

function row(v: unknown, width: number, where: string): number[] {
  if (!Array.isArray(v)) throw new BadPayload(`${where}: expected a list of ${width} numbers`);
  if (v.length !== width) throw new BadPayload(`${where}: expected ${width} numbers, got ${v.length}`);
  v.forEach((x, j) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new BadPayload(`${where}[${j}]: expected a number, got ${JSON.stringify(x)}`);
    }
  });
  return v as number[];
}

export function parseJsonBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadPayload(`Unrecognized request format: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** KServe v1: `instances` (or `inputs`, which v1 also accepts) is a list of rows. */
export function parseV1Instances(body: unknown, width: number): number[][] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadPayload('Expected a JSON object with "instances"');
  }
  const o = body as Record<string, unknown>;
  const key = 'instances' in o ? 'instances' : 'inputs' in o ? 'inputs' : null;
  if (key === null) throw new BadPayload('Expected "instances" or "inputs" in the request body');
  const instances = o[key];
  if (!Array.isArray(instances)) throw new BadPayload(`${key}: expected a list`);
  if (instances.length === 0) throw new BadPayload(`${key}: expected at least one instance`);
  if (instances.length > MAX_ROWS) throw new BadPayload(`${key}: at most ${MAX_ROWS} instances per request`);
  return instances.map((r, i) => row(r, width, `${key}[${i}]`));
}

export interface V2Request {
  id: string | null;
  inputName: string;
  rows: number[][];
}

const NUMERIC_TYPES = new Set(['FP16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

function flatten(v: unknown, out: unknown[], depth: number): void {
  if (Array.isArray(v) && depth < 8) for (const x of v) flatten(x, out, depth + 1);
  else out.push(v);
}

/** v2 infer: the first input, shape [N, width] (or [width] for one row), data flat or nested, row-major. */
export function parseV2Infer(body: unknown, width: number): V2Request {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadPayload('Expected a JSON object with "inputs"');
  }
  const o = body as Record<string, unknown>;
  const id = typeof o['id'] === 'string' ? o['id'] : null;
  const inputs = o['inputs'];
  if (!Array.isArray(inputs) || inputs.length === 0) throw new BadPayload('inputs: expected a non-empty list');
  if (inputs.length > 1) throw new BadPayload(`inputs: the model takes one input tensor, got ${inputs.length}`);
  const input: unknown = inputs[0];
  if (typeof input !== 'object' || input === null) throw new BadPayload('inputs[0]: expected an object');
  const t = input as Record<string, unknown>;
  const name = typeof t['name'] === 'string' ? t['name'] : 'input-0';
  const datatype = t['datatype'];
  if (typeof datatype !== 'string' || !NUMERIC_TYPES.has(datatype)) {
    throw new BadPayload(`inputs[0].datatype: ${JSON.stringify(datatype)} is not a numeric type (FP32, FP64, INT64, …)`);
  }
  const shape = t['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new BadPayload('inputs[0].shape: expected a list of non-negative integers');
  }
  let n: number;
  if (shape.length === 2 && shape[1] === width) n = shape[0] as number;
  else if (shape.length === 1 && shape[0] === width) n = 1;
  else throw new BadPayload(`inputs[0].shape: expected [N, ${width}], got ${JSON.stringify(shape)}`);
  if (n === 0) throw new BadPayload('inputs[0].shape: expected at least one row');
  if (n > MAX_ROWS) throw new BadPayload(`inputs[0].shape: at most ${MAX_ROWS} rows per request`);
  if (!Array.isArray(t['data'])) throw new BadPayload('inputs[0].data: expected a list');
  const flat: unknown[] = [];
  flatten(t['data'], flat, 0);
  if (flat.length !== n * width) {
    throw new BadPayload(
      `inputs[0].data: shape ${JSON.stringify(shape)} needs ${n * width} values, got ${flat.length}`,
    );
  }
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(row(flat.slice(i * width, (i + 1) * width), width, `inputs[0].data[${i}]`));
  return { id, inputName: name, rows };
}
