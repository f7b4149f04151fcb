#!/usr/bin/env node
// `npm start` runs this before `sluice serve`: it compiles the TypeScript sources to dist/ (tsc, ~15 s) and says so,
// unless dist/ is this script's own build of exactly the current sources. Plain JavaScript, since it runs before
// anything is compiled.
//
// "Exactly the current sources" is a SHA-256 over the contents of every file tsc reads from this package
// (tsconfig.json, package-lock.json for the compiler and type versions, and the .ts/.json files of tsconfig's
// `include` folders), written to dist/.build-stamp.json after a successful build. Contents, not times: a checkout,
// a copy or an editor's save that keeps an old mtime cannot fool it. Any other build (npm run build, npm test,
// npx tsc) rewrites dist/cli/main.js, whose mtime the stamp also records, so the next start builds again. An
// output file that is missing (a partly deleted dist/) also means a build.
//
//   node scripts/build-if-stale.mjs            build if needed
//   node scripts/build-if-stale.mjs --check    print whether a build is needed (exit 0: up to date, 1: stale)
//   --root DIR                                 the package root (default: this script's parent folder)
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const STAMP = join('dist', '.build-stamp.json');
const MAIN = join('dist', 'cli', 'main.js');
const SOURCE = /\.(ts|mts|cts|json)$/;

/** @param {string} dir @param {string[]} out */
function walk(dir, out) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === 'dist' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (SOURCE.test(e.name) && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
}

/**
 * Every input of the build, as paths relative to root (sorted, `/`-separated).
 * @param {string} root
 * @returns {string[]}
 */
export function buildInputs(root) {
  /** @type {{ include?: string[] }} */
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
  const files = [];
  for (const folder of tsconfig.include ?? []) if (existsSync(join(root, folder))) walk(join(root, folder), files);
  const rel = files.map((f) => relative(root, f).split(sep).join('/'));
  return ['tsconfig.json', 'package-lock.json', ...rel.sort()].filter((f, i, a) => a.indexOf(f) === i && existsSync(join(root, f)));
}

/** @param {string} root @param {string[]} inputs */
export function digestOf(root, inputs) {
  const h = createHash('sha256');
  for (const f of inputs) h.update(f).update('\0').update(readFileSync(join(root, f))).update('\0');
  return h.digest('hex');
}

/**
 * Whether dist/ is this script's build of the current sources, and if not, why.
 * @param {string} root
 * @returns {{ fresh: boolean, reason: string, digest: string }}
 */
export function buildState(root) {
  const inputs = buildInputs(root);
  const digest = digestOf(root, inputs);
  const stale = (reason) => ({ fresh: false, reason, digest });
  if (!existsSync(join(root, STAMP)) || !existsSync(join(root, MAIN))) return stale('no build yet');
  /** @type {{ digest?: string, mainMtimeMs?: number }} */
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(join(root, STAMP), 'utf8'));
  } catch {
    return stale('unreadable build stamp');
  }
  if (stamp.digest !== digest) return stale('the sources changed');
  if (stamp.mainMtimeMs !== statSync(join(root, MAIN)).mtimeMs) return stale('dist/ was rebuilt by another build since');
  const missing = inputs.find((f) => f.endsWith('.ts') && !existsSync(join(root, 'dist', f.replace(/\.ts$/, '.js'))));
  if (missing) return stale(`dist/ lacks the output of ${missing}`);
  return { fresh: true, reason: 'dist/ is the build of the current sources', digest };
}

/** Records that dist/ is the build of the sources with this digest. @param {string} root @param {string} digest */
export function writeStamp(root, digest) {
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(join(root, STAMP), `${JSON.stringify({ digest, mainMtimeMs: statSync(join(root, MAIN)).mtimeMs })}\n`);
}

function main() {
  const args = process.argv.slice(2);
  const at = args.indexOf('--root');
  const root = at >= 0 ? args[at + 1] : join(dirname(fileURLToPath(import.meta.url)), '..');
  const state = buildState(root);
  if (args.includes('--check')) {
    process.stdout.write(`${state.fresh ? 'up to date' : 'stale'}: ${state.reason}\n`);
    process.exit(state.fresh ? 0 : 1);
  }
  if (state.fresh) {
    process.stderr.write(`Sluice is built (${state.reason}); skipping tsc\n`);
    return;
  }
  process.stderr.write(`building Sluice (tsc, about 15 s; ${state.reason})…\n`);
  const started = Date.now();
  const tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write('the build failed (errors above); nothing was started\n');
    process.exit(r.status ?? 1);
  }
  writeStamp(root, state.digest);
  process.stderr.write(`built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
