/**
 * The "SavedModel" of the TensorFlow Serving stand-in: a linear softmax classifier read from
 * `<model_base_path>/<version>/weights.json` ({"coef": number[][], "intercept": number[]}), highest numeric
 * version wins, as TF Serving's default version policy serves the latest version.
 * Pure computation; the HTTP surface lives in tf-serving.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LinearModel {
  version: string;
  coef: number[][];
  intercept: number[];
}

export class ModelInputError extends Error {}

export function loadLatestVersion(modelBasePath: string): LinearModel {
  const versions = readdirSync(modelBasePath, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^\d+$/.test(d.name))
    .map((d) => d.name)
    .sort((a, b) => Number(b) - Number(a));
  const latest = versions[0];
  if (latest === undefined) {
    throw new Error(`no numeric version directory under ${modelBasePath}`);
  }
  const raw: unknown = JSON.parse(readFileSync(join(modelBasePath, latest, 'weights.json'), 'utf8'));
  if (!isWeights(raw)) {
    throw new Error(`${join(modelBasePath, latest, 'weights.json')} is not {"coef": number[][], "intercept": number[]}`);
  }
  return { version: latest, coef: raw.coef, intercept: raw.intercept };
}

function isWeights(v: unknown): v is { coef: number[][]; intercept: number[] } {
  if (typeof v !== 'object' || v === null) return false;
  const { coef, intercept } = v as Record<string, unknown>;
  return (
    Array.isArray(coef) &&
    coef.every((row) => Array.isArray(row) && row.every((x) => typeof x === 'number')) &&
    Array.isArray(intercept) &&
    intercept.every((x) => typeof x === 'number') &&
    intercept.length === coef.length
  );
}

/** Softmax probabilities per row; throws ModelInputError (TF Serving's INVALID_ARGUMENT) on a bad shape. */
export function predictRows(model: LinearModel, rows: unknown): number[][] {
  const features = model.coef[0]?.length ?? 0;
  if (!Array.isArray(rows) || rows.length === 0) {
    throw new ModelInputError('instances must be a non-empty list');
  }
  return rows.map((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== features || !row.every((x) => typeof x === 'number')) {
      throw new ModelInputError(
        `Expected input[${i}] to be a list of ${features} numbers, got ${JSON.stringify(row)?.slice(0, 80)}`,
      );
    }
    const logits = model.coef.map((w, k) => w.reduce((s, wj, j) => s + wj * (row[j] as number), model.intercept[k] ?? 0));
    const max = Math.max(...logits);
    const exps = logits.map((l) => Math.exp(l - max));
    const sum = exps.reduce((s, e) => s + e, 0);
    return exps.map((e) => e / sum);
  });
}
