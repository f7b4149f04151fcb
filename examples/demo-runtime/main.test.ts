import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_RUNTIME_MAIN, IRIS_MODEL_DIR } from '../../test/support/paths.js';
import { pidAlive, waitUntil } from '../../test/support/wait.js';

const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Started {
  child: ChildProcess;
  base: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  lines: string[];
}

/** Starts the compiled CLI on a free port (--port 0) and resolves once it logged `listening`. */
async function startCli(args: string[], env: Record<string, string> = {}, stdin: 'pipe' | 'ignore' = 'ignore'): Promise<Started> {
  const child = spawn(process.execPath, [DEMO_RUNTIME_MAIN, '--port', '0', ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: [stdin, 'pipe', 'inherit'],
  });
  children.push(child);
  const lines: string[] = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.once('exit', (code, signal) => r({ code, signal })),
  );
  let buf = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  const listening = await waitUntil(
    'listening log line',
    () => lines.map((l) => JSON.parse(l) as { msg: string; port?: number }).find((l) => l.msg === 'listening'),
    10_000,
  );
  return { child, base: `http://127.0.0.1:${listening.port}`, exit, lines };
}

describe('demo runtime CLI', () => {
  it('serves the model from --model-dir under --model-name, with knobs from the environment', async () => {
    const { base } = await startCli(['--model-name', 'flowers', '--model-dir', IRIS_MODEL_DIR], {
      SLUICE_DEMO_LABEL: 'canary',
    });
    await waitUntil('ready', async () => (await fetch(`${base}/v2/health/ready`)).ok, 10_000);
    const res = await fetch(`${base}/v1/models/flowers:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }),
    });
    expect(res.headers.get('x-demo-label')).toBe('canary');
    expect(await res.json()).toEqual({ predictions: [1], model_version: 'canary' });
  });

  it('on SIGTERM finishes the request in flight, then exits 0', async () => {
    const { child, base, exit } = await startCli([], { SLUICE_DEMO_LATENCY_MS: '800' });
    await waitUntil('ready', async () => (await fetch(`${base}/v2/health/ready`)).ok, 10_000);
    const inFlight = fetch(`${base}/v1/models/iris:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: [[5.1, 3.5, 1.4, 0.2]] }),
    });
    await waitUntil('request in flight', async () => ((await (await fetch(`${base}/demo/stats`)).json()) as { inFlight: number }).inFlight === 1, 5_000);
    child.kill('SIGTERM');
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [0] });
    expect(await exit).toEqual({ code: 0, signal: null });
  });

  it('exits when its stdin pipe closes (the parent is gone)', async () => {
    const { child, exit } = await startCli([], {}, 'pipe');
    child.stdin!.end();
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(pidAlive(child.pid!)).toBe(false);
  });

  it('rejects a bad knob with exit code 2', async () => {
    const child = spawn(process.execPath, [DEMO_RUNTIME_MAIN, '--port', '0'], {
      env: { PATH: process.env['PATH'] ?? '', SLUICE_DEMO_ERROR_RATE: '1.5' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let err = '';
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(2);
    expect(err).toMatch(/error rate: "1.5" is not a number in \[0, 1\]/);
  });
});
