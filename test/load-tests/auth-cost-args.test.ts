/**
 * The auth-cost benchmark's command line: it replaces load-tests/results/auth-cost.md whole when it runs, so a
 * `--help` or a mistyped flag must print the usage and stop before anything starts or is written.
 */
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../dist/load-tests/auth-cost.js', import.meta.url));
const REPORT = fileURLToPath(new URL('../../load-tests/results/auth-cost.md', import.meta.url));
const run = promisify(execFile);

async function exit(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [SCRIPT, ...args], { timeout: 10_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('auth-cost.js arguments', () => {
  it('--help prints the usage, exits 0 and leaves the committed report as it was', async () => {
    const before = statSync(REPORT).mtimeMs;
    const r = await exit(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: node dist\/load-tests\/auth-cost\.js/);
    expect(r.stdout).toContain('--report FILE');
    expect(statSync(REPORT).mtimeMs).toBe(before);
  });

  it('an unknown flag is named, with the usage, and exits 2', async () => {
    const r = await exit(['--round', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'--round'");
    expect(r.stderr).toContain('usage:');
  });

  it('a count that is not a whole number names the flag and what it got', async () => {
    const r = await exit(['--rounds', 'three']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--rounds must be a whole number of at least 1 (got "three")');
  });
});
