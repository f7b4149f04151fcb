import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { KubeObject, RunningPod } from '../kube-apiserver/index.js';
import { DEMO_RUNTIME_MAIN, IRIS_MODEL_DIR } from './paths.js';

/** The part of a pod's first container a demo pod reads: `--model-name=` in its args, and its env. */
export interface DemoContainer {
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
}

/** A pod's first container. */
export function demoContainer(pod: KubeObject): DemoContainer {
  return (pod as { spec?: { containers?: DemoContainer[] } }).spec?.containers?.[0] ?? {};
}

/**
 * Starts the real demo runtime as a local process with the container's env (`SLUICE_DEMO_*`: label, error
 * rate, start-up delay, …) and resolves with it and its port once it listens, which may be before its model is
 * ready (`SLUICE_DEMO_STARTUP_DELAY_MS`). A process that exits first rejects with what it wrote on stderr and
 * its `exitCode`, which the test kubelet shows as the container's termination message (CrashLoopBackOff).
 */
export async function spawnDemoPod(c: DemoContainer): Promise<{ child: ChildProcess; port: number }> {
  const model = (c.args ?? []).find((a) => a.startsWith('--model-name='))?.slice('--model-name='.length) ?? 'model';
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', SLUICE_DEMO_WATCH_STDIN: '0' };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const child = spawn(process.execPath, [DEMO_RUNTIME_MAIN, '--port', '0', '--model-name', model, '--model-dir', IRIS_MODEL_DIR], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2048);
    process.stderr.write(chunk);
  });
  // The demo runtime logs one JSON line per event; the `listening` one carries the port.
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) if (line.includes('"listening"')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(Object.assign(new Error(stderr.trim() || 'the demo pod exited before listening'), { exitCode: code ?? 137 })));
  });
  child.stdout!.resume();
  return { child, port };
}

/** Stops a demo pod process (SIGTERM, then waits for it); nothing when it has exited already. */
export async function stopDemoPod(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/** A PodRunner for the test API server's kubelet: each pod runs the real demo runtime (`spawnDemoPod`). */
export async function runDemoPod(pod: KubeObject): Promise<RunningPod> {
  const { child, port } = await spawnDemoPod(demoContainer(pod));
  return { ip: '127.0.0.1', port, stop: () => stopDemoPod(child) };
}
