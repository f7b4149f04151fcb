/**
 * Held-request memory: N requests with bodies held for a revision whose replica never becomes ready in time,
 * measured as the growth of the sluice process's RSS; then one more request past the bound
 * (maxHeldPerRevision, default 10,000) to show the 503, then every client leaves and the queue empties.
 *
 *   npm run build && node dist/load-tests/held-memory.js [requests=10000] [bodyBytes=1024]
 *
 * Clients are raw sockets in this process; sluice runs as a child process so its RSS is its own.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { SLUICE_ROOT } from '../test/support/paths.js';
import { configFolder, demoService } from '../test/support/embedded.js';
import { startSluiceProcess } from './support/sluice-process.js';
import { SLUICE_NODE_FLAGS } from './support/node-flags.js';

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 10_000);
  const bodyBytes = Number(process.argv[3] ?? 1024);
  const dir = configFolder({
    'held.yaml': demoService('held', {
      annotations: { 'autoscaling.knative.dev/initial-scale': '0' },
      predictor: '    minReplicas: 0\n    maxReplicas: 1\n    containerConcurrency: 4\n',
      env: { SLUICE_DEMO_STARTUP_DELAY_MS: '600000' },
    }),
  });
  // n held connections, plus the warm-up's and the over-the-bound request's: more than maxConnections' default
  // (10,000) when n is 10,000, and one connection closed at accept would never be held.
  const sluice = await startSluiceProcess(dir, { settings: [`maxConnections=${n + 100}`] });
  const port = Number(new URL(sluice.dataUrl).port);
  const sockets: net.Socket[] = [];
  const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;
  try {
    // Warm the gateway path once (a 404) so lazy code loading is not counted as held-request memory.
    await fetch(`${sluice.dataUrl}/v1/models/nope:predict`, { method: 'POST', body: '{}' });
    await new Promise((r) => setTimeout(r, 1000));
    const rss0 = sluice.rss();
    const t0 = Date.now();
    await openHeld(port, n, bodyBytes, sockets);
    const heldGauge = 'sluice_activator_held_requests{namespace="default",service="held",revision="held-predictor-00001"}';
    for (;;) {
      const held = await sluice.metric(heldGauge);
      if (held === n) break;
      if (Date.now() - t0 > 120_000) throw new Error(`only ${held} of ${n} requests held after 120 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 1000));
    const rss1 = sluice.rss();
    const heldBytes = await sluice.metric('sluice_activator_held_bytes{namespace="default",service="held"');
    console.log(`held-request memory: ${n} held requests with ${bodyBytes}-byte bodies (declared ${mib(heldBytes ?? 0)})`);
    console.log(`  sluice RSS before: ${mib(rss0)}, with ${n} held: ${mib(rss1)}, delta ${mib(rss1 - rss0)}  (goal ≤ 100 MiB)`);
    console.log(`  per held request: ${((rss1 - rss0) / n / 1024).toFixed(1)} KiB`);

    const over = await fetch(`${sluice.dataUrl}/v2/models/held/infer`, { method: 'POST', body: '{"inputs":[]}' });
    console.log(`  request ${n + 1}: ${over.status}, retry-after ${over.headers.get('retry-after')}, body ${await over.text()}`);

    for (const s of sockets) s.destroy();
    for (;;) {
      const held = await sluice.metric(heldGauge);
      if (held === 0) break;
      if (Date.now() - t0 > 180_000) throw new Error(`${held} requests still held after the clients left`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const gone = await sluice.metric('sluice_activator_rejected_total{reason="client_gone"}');
    console.log(`  all clients left: held back to 0, client_gone drops ${gone}; RSS now ${mib(sluice.rss())}`);
    await sluice.stop();
    const bare = await baseline(n, bodyBytes);
    console.log(`  baseline, a bare node:http server holding the same ${n} requests: RSS delta ${mib(bare)} (${(bare / n / 1024).toFixed(1)} KiB each)`);
    console.log(`  => Sluice's own share: ${mib(rss1 - rss0 - bare)} (${((rss1 - rss0 - bare) / n / 1024).toFixed(1)} KiB per held request)`);
  } finally {
    for (const s of sockets) s.destroy();
    await sluice.stop();
  }
}

/** Opens n client connections, each sending a POST with a body of bodyBytes, in batches. */
async function openHeld(port: number, n: number, bodyBytes: number, sockets: net.Socket[]): Promise<void> {
  const body = Buffer.alloc(bodyBytes, 0x78);
  const head = Buffer.from(
    `POST /v2/models/held/infer HTTP/1.1\r\nhost: held\r\ncontent-type: application/json\r\ncontent-length: ${bodyBytes}\r\n\r\n`,
  );
  for (let i = 0; i < n; i += 250) {
    await Promise.all(
      Array.from({ length: Math.min(250, n - i) }, () =>
        new Promise<void>((resolve, reject) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.write(head);
            s.write(body);
            resolve();
          });
          s.once('error', reject);
          sockets.push(s);
        }),
      ),
    );
  }
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** RSS growth of a bare node:http server holding the same requests (with the Node flags Sluice runs with). */
async function baseline(n: number, bodyBytes: number): Promise<number> {
  const child = spawn(process.execPath, [...SLUICE_NODE_FLAGS, join(SLUICE_ROOT, 'dist', 'load-tests', 'support', 'bare-holder.js')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const sockets: net.Socket[] = [];
  try {
    const port = await new Promise<number>((resolve) => child.stdout!.once('data', (c: Buffer) => resolve((JSON.parse(c.toString()) as { port: number }).port)));
    await new Promise((r) => setTimeout(r, 1000));
    const rss0 = rssOf(child.pid!);
    await openHeld(port, n, bodyBytes, sockets);
    await new Promise((r) => setTimeout(r, 2000));
    return rssOf(child.pid!) - rss0;
  } finally {
    for (const s of sockets) s.destroy();
    child.kill('SIGKILL');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
