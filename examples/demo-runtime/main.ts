/**
 * CLI entry of the demo runtime: `node dist/examples/demo-runtime/main.js --port 8080 --model-name iris
 * --model-dir examples/models/iris` (knobs: see demo-options.ts). Logs one JSON line per event on stdout.
 * SIGTERM/SIGINT: stop accepting, finish in-flight, exit 0 (forced after the shutdown timeout).
 * When stdin is a pipe or socket (as the local backend starts it), its end means the parent died: exit too.
 */
import { fstatSync } from 'node:fs';
import { parseCliOptions } from './demo-options.js';
import { createDemoServer } from './server.js';

function log(level: 'info' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, msg, ...fields })}\n`);
}

function stdinIsPipe(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  let opts;
  try {
    opts = parseCliOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`demo-runtime: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const demo = createDemoServer(opts);

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log('info', 'shutting down', { reason: why, inFlight: demo.stats().requests });
    const hard = setTimeout(() => {
      log('error', 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, opts.shutdownTimeoutMs + 2_000);
    hard.unref();
    void demo.shutdown(opts.shutdownTimeoutMs).then(() => {
      log('info', 'stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (opts.watchStdin && stdinIsPipe()) {
    process.stdin.on('end', () => stop('stdin closed (parent gone)'));
    process.stdin.on('close', () => stop('stdin closed (parent gone)'));
    process.stdin.on('error', () => stop('stdin error (parent gone)'));
    process.stdin.resume();
  }

  const port = await demo.listen(opts.port, opts.host);
  log('info', 'listening', { host: opts.host, port, model: opts.modelName, label: opts.label });
  try {
    await demo.whenReady;
  } catch (err) {
    log('error', 'model failed to load', { error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  log('info', 'ready', { port, model: opts.modelName });
}

void main();
