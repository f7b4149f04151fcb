/**
 * `npm start` builds unless dist/ is its own build of exactly the current sources (scripts/build-if-stale.mjs).
 * A fresh clone always builds; a changed, reverted or re-timed source, another build, or a missing output is
 * noticed.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SLUICE_ROOT } from '../support/paths.js';
// @ts-expect-error: a plain JavaScript script (it runs before anything is compiled); vitest loads it as is.
import { buildInputs, buildState, writeStamp } from '../../scripts/build-if-stale.mjs';

type State = { fresh: boolean; reason: string; digest: string };
const state = buildState as (root: string) => State;
const stamp = writeStamp as (root: string, digest: string) => void;
const SCRIPT = join(SLUICE_ROOT, 'scripts', 'build-if-stale.mjs');
const run = promisify(execFile);

/** A package with two sources, a test file and a README, and no dist/ (a fresh clone). */
function fakePackage(): string {
  const root = mkdtempSync(join(tmpdir(), 'sluice-build-'));
  writeFileSync(join(root, 'tsconfig.json'), JSON.stringify({ include: ['cli', 'core'] }));
  writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3}');
  mkdirSync(join(root, 'cli'));
  mkdirSync(join(root, 'core'));
  writeFileSync(join(root, 'cli', 'main.ts'), 'export const a = 1;\n');
  writeFileSync(join(root, 'core', 'clock.ts'), 'export const b = 2;\n');
  writeFileSync(join(root, 'core', 'clock.test.ts'), 'test file\n');
  writeFileSync(join(root, 'README.md'), 'readme\n');
  return root;
}

/** What tsc would leave in dist/, then the stamp this script writes after a successful build. */
function build(root: string): void {
  mkdirSync(join(root, 'dist', 'cli'), { recursive: true });
  mkdirSync(join(root, 'dist', 'core'), { recursive: true });
  writeFileSync(join(root, 'dist', 'cli', 'main.js'), 'js\n');
  writeFileSync(join(root, 'dist', 'core', 'clock.js'), 'js\n');
  stamp(root, state(root).digest);
}

describe('npm start: build if stale', () => {
  it('a fresh clone builds; its own build of the same sources does not build again', () => {
    const root = fakePackage();
    expect(state(root)).toMatchObject({ fresh: false, reason: 'no build yet' });
    build(root);
    expect(state(root)).toMatchObject({ fresh: true });
    expect(buildInputs(root)).toEqual(['tsconfig.json', 'package-lock.json', 'cli/main.ts', 'core/clock.ts']);
  });

  it('compares contents, not times: an edit is stale, its revert is fresh, a touch alone is not an edit', () => {
    const root = fakePackage();
    build(root);
    writeFileSync(join(root, 'core', 'clock.ts'), 'export const b = 3;\n');
    expect(state(root)).toMatchObject({ fresh: false, reason: 'the sources changed' });
    // An older mtime (a copy that keeps times) does not hide the change.
    utimesSync(join(root, 'core', 'clock.ts'), new Date(2000, 0, 1), new Date(2000, 0, 1));
    expect(state(root).fresh).toBe(false);
    writeFileSync(join(root, 'core', 'clock.ts'), 'export const b = 2;\n');
    expect(state(root).fresh).toBe(true);
    writeFileSync(join(root, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    expect(state(root)).toMatchObject({ fresh: false, reason: 'the sources changed' });
  });

  it('notices another build since (main.js rewritten) and a missing output', () => {
    const root = fakePackage();
    build(root);
    utimesSync(join(root, 'dist', 'cli', 'main.js'), new Date(), new Date(Date.now() + 5000));
    expect(state(root)).toMatchObject({ fresh: false, reason: 'dist/ was rebuilt by another build since' });
    build(root);
    rmSync(join(root, 'dist', 'core', 'clock.js'));
    expect(state(root)).toMatchObject({ fresh: false, reason: 'dist/ lacks the output of core/clock.ts' });
  });

  it('--check says so and exits 1 when a build is needed, 0 when not', async () => {
    const root = fakePackage();
    const stale = await run(process.execPath, [SCRIPT, '--check', '--root', root]).catch((e: { code: number; stdout: string }) => e);
    expect(stale).toMatchObject({ code: 1, stdout: 'stale: no build yet\n' });
    build(root);
    const fresh = await run(process.execPath, [SCRIPT, '--check', '--root', root]);
    expect(fresh.stdout).toBe('up to date: dist/ is the build of the current sources\n');
  });
});
