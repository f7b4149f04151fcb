/** The built `sluice` CLI as a child process, as a user runs it: exit code, stdout and stderr, never a throw. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SLUICE_ROOT } from './paths.js';

const run = promisify(execFile);
const CLI = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');

export async function sluiceCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: SLUICE_ROOT });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
