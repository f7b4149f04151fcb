/** Paths tests need: the repository root and the compiled demo runtime. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SLUICE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEMO_RUNTIME_MAIN = join(SLUICE_ROOT, 'dist', 'examples', 'demo-runtime', 'main.js');
export const IRIS_MODEL_DIR = join(SLUICE_ROOT, 'examples', 'models', 'iris');
