/**
 * The direct baseline: what a fresh replica itself costs on its first requests. A demo replica with no Sluice in
 * front is started; the moment it logs "ready", `containerConcurrency` requests go to it at once, and the result
 * is the ms from its "ready" log time to the first answer (a fresh process is slow the first time through its
 * code, with or without Sluice).
 */
import { spawn } from 'node:child_process';
import { Agent, request } from 'undici';
import { inferBody } from '../../test/support/data-plane.js';
import { DEMO_RUNTIME_MAIN, IRIS_MODEL_DIR } from '../../test/support/paths.js';
import type { ChildRegistry } from '../harness/child-process.js';
import { BURST_PATH, BURST_SERVICE, demoEnv, type BurstServiceShape } from './service.js';

export async function directFirstResponse(shape: BurstServiceShape, bodyBytes: number, children?: ChildRegistry): Promise<number> {
  const child = spawn(process.execPath, [DEMO_RUNTIME_MAIN, '--port', '0', '--model-name', BURST_SERVICE, '--model-dir', IRIS_MODEL_DIR], {
    env: { PATH: process.env['PATH'] ?? '', ...demoEnv(shape) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children?.track(child);
  const agent = new Agent({ connections: shape.containerConcurrency * 2 });
  const bodies = Array.from({ length: shape.containerConcurrency }, (_, i) => inferBody(`direct-${i}`, bodyBytes));
  try {
    const ready = await new Promise<{ port: number; time: string }>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error('direct demo replica: no "ready" line within 30 s')), 30_000);
      child.stdout!.on('data', (c: Buffer) => {
        buf += c.toString();
        const parts = buf.split('\n');
        buf = parts.pop()!;
        for (const p of parts) {
          let line: { msg?: string; port?: number; time?: string };
          try {
            line = JSON.parse(p) as typeof line;
          } catch {
            continue;
          }
          if (line.msg === 'ready' && typeof line.port === 'number' && typeof line.time === 'string') {
            clearTimeout(timer);
            resolve({ port: line.port, time: line.time });
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`direct demo replica exited with ${code} before it was ready`));
      });
    });
    const firsts = await Promise.all(
      bodies.map(async (body) => {
        const r = await request(`http://127.0.0.1:${ready.port}${BURST_PATH}`, { method: 'POST', dispatcher: agent, body });
        await r.body.dump();
        if (r.statusCode !== 200) throw new Error(`direct demo replica answered ${r.statusCode}`);
        return Date.now();
      }),
    );
    return Math.min(...firsts) - Date.parse(ready.time);
  } finally {
    await agent.close();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGKILL');
      await exited;
    }
  }
}
