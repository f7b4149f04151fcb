import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { KubeObject, RunningPod } from '../kube-apiserver/index.js';
import { DEMO_RUNTIME_MAIN, IRIS_MODEL_DIR } from './paths.js';

/**
 * A PodRunner for the test API server's kubelet: each pod runs the real demo runtime as a local process, with
 * the pod's container env (`SLUICE_DEMO_*`: label, error rate, start-up delay, …). Resolves once it listens,
 * which may be before its model is ready (`SLUICE_DEMO_STARTUP_DELAY_MS`).
 */
export async function runDemoPod(pod: KubeObject): Promise<RunningPod> {
  const spec = (pod as { spec?: { containers?: Array<{ args?: string[]; env?: Array<{ name: string; value?: string }> }> } }).spec;
  const c = spec?.containers?.[0] ?? {};
  const model = (c.args ?? []).find((a) => a.startsWith('--model-name='))?.slice('--model-name='.length) ?? 'model';
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', SLUICE_DEMO_WATCH_STDIN: '0' };
  for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
  const child = spawn(process.execPath, [DEMO_RUNTIME_MAIN, '--port', '0', '--model-name', model, '--model-dir', IRIS_MODEL_DIR], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env,
  });
  // The demo runtime logs one JSON line per event; the `listening` one carries the port.
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) if (line.includes('"listening"')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', () => reject(new Error('the demo pod exited before listening')));
  });
  child.stdout!.resume();
  return {
    ip: '127.0.0.1',
    port,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
