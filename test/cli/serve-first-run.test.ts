/**
 * `sluice serve` as a person first meets it, through a real process: the banner on stderr, a request from it that
 * works when pasted into a shell, human log lines when asked (a terminal gets them by default), JSON lines otherwise.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { configFolder, demoService } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';

const run = promisify(execFile);
const CLI = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');

interface Served {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

const children: ChildProcess[] = [];

function serve(extra: string[]): Served {
  const dir = configFolder({ 'iris.yaml': demoService('iris') });
  const state = join(mkdtempSync(join(tmpdir(), 'sluice-state-')), 'state');
  const args = [CLI, 'serve', '--config', dir, '--data-host', '127.0.0.1', '--data-port', '0', '--admin-port', '0', '--metrics-host', '127.0.0.1', '--metrics-port', '0', '--state-dir', state, ...extra];
  const child = spawn(process.execPath, args, { cwd: SLUICE_ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  return { child, stdout: () => out, stderr: () => err };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

afterEach(async () => {
  for (const c of children.splice(0)) await stop(c);
});

describe('sluice serve, first run', () => {
  it('--log-format pretty: prints the banner, whose curl works pasted into a shell, and human log lines', async () => {
    const s = serve(['--log-format', 'pretty']);
    const banner = await waitUntil('the banner', () => (/\nTry:\n[\s\S]*get isvc --server \S+ --state-dir \S+\n/.test(s.stderr()) ? s.stderr() : false), 30_000);
    expect(banner).toMatch(/\n {2}state {7}\/\S+\/state\n/);
    expect(banner).toMatch(/\n {2}metrics {5}http:\/\/127\.0\.0\.1:\d+\/metrics\n/);
    const curl = banner.split('\n').find((l) => l.trimStart().startsWith('curl '))!.trim();
    const answer = await run('sh', ['-c', curl], { timeout: 30_000 });
    expect(JSON.parse(answer.stdout)).toEqual({ predictions: [1] });
    // The CLI call from the banner works as printed too (the command is relative to the package root).
    const cliLine = banner.split('\n').find((l) => l.includes(' get isvc'))!.trim();
    const table = await run('sh', ['-c', cliLine], { cwd: SLUICE_ROOT });
    expect(table.stdout).toMatch(/^NAME\s+URL\s+READY/);
    await waitUntil('the replica ready line', () => s.stdout().includes('replica ready'));
    const lines = s.stdout().trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR|FATAL) /);
    expect(s.stdout()).toMatch(/ INFO {2}\[controller\] revision created {2}service=default\/iris revision=iris-predictor-00001\n/);
  });

  it('logs JSON lines and prints no banner when stdout is not a terminal (auto)', async () => {
    const s = serve([]);
    await waitUntil('the serving log line', () => s.stdout().includes('"msg":"sluice is serving"'), 30_000);
    const records = s.stdout().trimEnd().split('\n').map((l) => JSON.parse(l) as { msg: string; stateDir?: string });
    expect(records.find((r) => r.msg === 'sluice is serving')?.stateDir).toMatch(/\/state$/);
    expect(s.stderr()).not.toContain('Sluice is serving');
  });
});
