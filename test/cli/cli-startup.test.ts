/**
 * A CLI call loads only what its command needs: `sluice get` and `--help` start without the server, the schemas,
 * the Kubernetes client or the metrics library (each costs tens to hundreds of milliseconds of start-up).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Embedded } from '../../cli/embedded.js';
import { cliTarget, configFolder, demoService, startTestSluice } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';

const run = promisify(execFile);
const CLI = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');
const RECORDER = join(SLUICE_ROOT, 'test', 'fixtures', 'import-recorder', 'register.mjs');
const HEAVY = ['@kubernetes/client-node', 'zod', 'prom-client', 'undici', 'pino', 'ioredis', 'yaml'];

/** Runs the CLI and returns what it imported (specifiers as written), with its output. */
async function importsOf(args: string[]): Promise<{ imports: string[]; stdout: string }> {
  const log = join(mkdtempSync(join(tmpdir(), 'sluice-imports-')), 'imports.txt');
  const r = await run(process.execPath, ['--import', RECORDER, CLI, ...args], { cwd: SLUICE_ROOT, env: { ...process.env, SLUICE_IMPORT_LOG: log } });
  return { imports: readFileSync(log, 'utf8').trim().split('\n'), stdout: r.stdout };
}

const packagesOf = (imports: string[]): string[] => imports.filter((s) => HEAVY.includes(s) || HEAVY.some((h) => s.startsWith(`${h}/`)));

describe('CLI start-up', () => {
  let s: Embedded;
  beforeAll(async () => {
    s = await startTestSluice(configFolder({ 'quick.yaml': demoService('quick', { annotations: { 'autoscaling.knative.dev/initial-scale': '0' } }) }));
  });
  afterAll(async () => {
    await s?.close();
  });

  it('`sluice get isvc` loads no schema, server, Kubernetes, metrics or YAML library', async () => {
    const r = await importsOf(['get', 'isvc', ...cliTarget(s)]);
    expect(r.stdout).toMatch(/^NAME\s+URL/);
    expect(r.stdout).toMatch(/\nquick\s/);
    expect(r.imports).toContain('./isvc-table.js');
    expect(packagesOf(r.imports)).toEqual([]);
    expect(r.imports.filter((i) => /embedded|cluster\.js|controller|gateway/.test(i))).toEqual([]);
  });

  it('`sluice --help` loads only the command line parser', async () => {
    const r = await importsOf(['--help']);
    expect(r.stdout).toMatch(/Usage: sluice/);
    expect(packagesOf(r.imports)).toEqual([]);
    expect(r.imports).not.toContain('./commands.js');
  });

  it('the recorder sees what a command loads (serve-side code for apply --dry-run)', async () => {
    const r = await importsOf(['apply', '--dry-run', '-f', join(SLUICE_ROOT, 'examples', 'services', 'iris.yaml'), '--runtimes', join(SLUICE_ROOT, 'examples', 'runtimes')]);
    expect(r.stdout).toMatch(/runtime: sluice-demo/);
    expect(packagesOf(r.imports)).toEqual(expect.arrayContaining(['zod', 'yaml']));
  });
});
