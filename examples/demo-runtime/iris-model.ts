/**
 * The demo runtime's model: multinomial logistic regression with fixed coefficients (iris by default).
 * Loaded from `<model-dir>/model.json`, or the built-in copy below when no directory is given.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface LinearClassifier {
  name: string;
  version: string;
  features: string[];
  classes: string[];
  /** One row of coefficients per class, one column per feature. */
  coefficients: number[][];
  /** One intercept per class. */
  intercepts: number[];
}

/** Same numbers as examples/models/iris/model.json (training accuracy 98.7% on the 150 iris rows). */
export const BUILT_IN_IRIS: LinearClassifier = {
  name: 'iris',
  version: '1',
  features: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'],
  classes: ['setosa', 'versicolor', 'virginica'],
  coefficients: [
    [0.3452, 1.2914, -2.1294, -0.9744],
    [0.2486, -0.4061, -0.0339, -0.7628],
    [-0.5938, -0.8853, 2.1634, 1.7372],
  ],
  intercepts: [2.9333, 2.6612, -5.5945],
};

function isNumberArray(v: unknown, len: number): v is number[] {
  return Array.isArray(v) && v.length === len && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Checks a parsed model.json; throws an Error naming the first bad field. */
export function parseLinearClassifier(raw: unknown, source: string): LinearClassifier {
  if (typeof raw !== 'object' || raw === null) throw new Error(`${source}: expected a JSON object`);
  const o = raw as Record<string, unknown>;
  const kind = o['kind'] ?? 'multinomial-logistic-regression';
  if (kind !== 'multinomial-logistic-regression') {
    throw new Error(`${source}: kind "${String(kind)}" is not supported (multinomial-logistic-regression)`);
  }
  const features = o['features'];
  const classes = o['classes'];
  if (!Array.isArray(features) || features.length === 0 || !features.every((f) => typeof f === 'string')) {
    throw new Error(`${source}: features must be a non-empty list of names`);
  }
  if (!Array.isArray(classes) || classes.length < 2 || !classes.every((c) => typeof c === 'string')) {
    throw new Error(`${source}: classes must be a list of at least two names`);
  }
  const coefficients = o['coefficients'];
  if (!Array.isArray(coefficients) || coefficients.length !== classes.length) {
    throw new Error(`${source}: coefficients must have one row per class (${classes.length})`);
  }
  coefficients.forEach((row: unknown, i) => {
    if (!isNumberArray(row, features.length)) {
      throw new Error(`${source}: coefficients[${i}] must be ${features.length} finite numbers`);
    }
  });
  if (!isNumberArray(o['intercepts'], classes.length)) {
    throw new Error(`${source}: intercepts must be ${classes.length} finite numbers`);
  }
  return {
    name: typeof o['name'] === 'string' ? o['name'] : 'model',
    version: typeof o['version'] === 'string' ? o['version'] : '1',
    features: features as string[],
    classes: classes as string[],
    coefficients: coefficients as number[][],
    intercepts: o['intercepts'],
  };
}

export async function loadLinearClassifier(modelDir: string | null | undefined): Promise<LinearClassifier> {
  if (!modelDir) return BUILT_IN_IRIS;
  const file = join(modelDir, 'model.json');
  const text = await readFile(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return parseLinearClassifier(raw, file);
}

/** Index of the most probable class for one row (argmax of the logits = argmax of the softmax). */
export function predictClass(model: LinearClassifier, row: readonly number[]): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let k = 0; k < model.coefficients.length; k++) {
    const w = model.coefficients[k]!;
    let score = model.intercepts[k]!;
    for (let j = 0; j < w.length; j++) score += w[j]! * row[j]!;
    if (score > bestScore) {
      bestScore = score;
      best = k;
    }
  }
  return best;
}
