import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A C program of the harness, compiled with `gcc -O2` on first use into the temp folder, once per version of its
 * source (the file name carries a hash of it), so a run on a fresh machine needs only gcc, no download. `whatFor`
 * names it in the error thrown when gcc is missing or the build fails, with `otherwise` (what to run instead).
 */
export function compiledC(source: string, name: string, whatFor: string, otherwise: string): string {
  const text = readFileSync(source);
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `sluice-${name}`);
  const binary = join(dir, `${name}-${hash}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}.tmp`;
  const built = spawnSync('gcc', ['-O2', '-o', partial, source, '-lm'], { encoding: 'utf8' });
  if (built.error !== undefined || built.status !== 0) {
    const why = built.error !== undefined ? built.error.message : built.stderr.trim();
    throw new Error(`${whatFor} needs gcc (apt-get install gcc), ${otherwise}: ${why}`);
  }
  renameSync(partial, binary);
  return binary;
}
