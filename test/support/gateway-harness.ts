/**
 * A gateway in front of a controller with a FakeBackend whose endpoints are real in-process demo servers — the
 * whole data path (route table, picker, activator, forwarder) on real sockets, without child processes.
 */
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { Collector } from '../../autoscaler/collector.js';
import { gatewayPipeline } from '../../cli/wiring.js';
import { silentLogger } from '../../core/log.js';
import type { ControllerDeps } from '../../deploy/controller.js';
import { createDemoServer, type DemoServer } from '../../examples/demo-runtime/server.js';
import { Forwarder } from '../../gateway/forwarder.js';
import { Gateway, type GatewayDeps } from '../../gateway/gateway.js';
import { OutcomeRecorder } from '../../gateway/outcome-recorder.js';
import type { Stage } from '../../gateway/stage.js';
import { controllerHarness, type Harness } from './controller-harness.js';

export interface GatewayHarness extends Harness {
  url: string;
  pool: Pool;
  gateway: Gateway;
  outcomes: OutcomeRecorder;
  collector: Collector;
  /** Starts a demo server labelled `label` and marks it a ready replica of `revision`. */
  replica(revision: string, label: string, opts?: { latencyMs?: number; errorRate?: number }): Promise<DemoServer>;
  /** One v1 predict; resolves with status, label and body text. */
  predict(headers?: Record<string, string>, path?: string): Promise<{ status: number; label: string | null; body: string }>;
  close(): Promise<void>;
}

/** `stages` are composed between the priority header and accounting, as `extraStages` in cli/wiring.ts. */
export async function gatewayHarness(
  extra: Partial<ControllerDeps> = {},
  stages: readonly Stage[] = [],
  batching?: { maxBodyBytes: number; splitOnError: boolean; bodyTimeoutMs?: number },
  gatewayDeps: Pick<GatewayDeps, 'http1Server'> = {},
): Promise<GatewayHarness> {
  const outcomes = new OutcomeRecorder();
  const h = controllerHarness({ outcomes, ...extra });
  const collector = new Collector({ clock: h.clock, store: h.store, instance: 'test' });
  const forwarder = new Forwarder();
  const gateway = new Gateway({
    clock: h.clock,
    logger: silentLogger(),
    metrics: h.metrics,
    snapshot: h.snapshot,
    activator: h.activator,
    forwarder,
    pipeline: gatewayPipeline({ clock: h.clock, logger: silentLogger(), metrics: h.metrics, collector, outcomes, extraStages: stages, batching }),
    ...gatewayDeps,
  });
  const server = gateway.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const pool = new Pool(url, { connections: 64 });
  const demos: DemoServer[] = [];
  const body = JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] });
  return {
    ...h,
    url,
    pool,
    gateway,
    outcomes,
    collector,
    async replica(revision, label, opts = {}) {
      const demo = createDemoServer({ modelName: 'iris', label, ...opts });
      const port = await demo.listen(0, '127.0.0.1');
      await demo.whenReady;
      demos.push(demo);
      h.backend.markReady(`default/${revision}`, `http://127.0.0.1:${port}`);
      return demo;
    },
    async predict(headers = {}, path = '/v1/models/iris:predict') {
      const r = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
      const text = await r.body.text();
      const l = r.headers['x-demo-label'];
      return { status: r.statusCode, label: typeof l === 'string' ? l : null, body: text };
    },
    async close() {
      await pool.close();
      server.closeAllConnections();
      server.close();
      collector.close();
      await forwarder.close();
      h.controller.stop();
      await Promise.all(demos.map((d) => d.shutdown(1000)));
    },
  };
}

/** Runs `n` calls of `fn` with at most `concurrency` at once. */
export async function fire<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, concurrency) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}
