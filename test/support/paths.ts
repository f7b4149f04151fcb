/** Paths tests need: the repository root and the compiled demo runtime (same answers from source or dist/). */
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const up2 = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SLUICE_ROOT = basename(up2) === 'dist' ? dirname(up2) : up2;
export const DEMO_RUNTIME_MAIN = join(SLUICE_ROOT, 'dist', 'examples', 'demo-runtime', 'main.js');
export const IRIS_MODEL_DIR = join(SLUICE_ROOT, 'examples', 'models', 'iris');
