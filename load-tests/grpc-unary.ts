/**
 * gRPC unary infer: direct to an upstream vs through Sluice vs through nginx (`grpc_pass`), in the same run.
 * One closed-loop HTTP/2 client in this process (`concurrency` calls in flight on one connection, as a gRPC
 * channel does), a fast raw-HTTP/2 upstream (upstreams/grpc-responder.ts) per path, each proxy in its own
 * process. Reports calls/s, p50/p99 latency, the ratio to direct, and the proxy's CPU µs per call.
 *
 *   npm run build && node dist/load-tests/grpc-unary.js [seconds=5] [concurrency=32]
 *
 * SLUICE_NODE_ARGS (space-separated) adds Node flags to the Sluice process, e.g.
 * `SLUICE_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"` for a CPU profile written when it stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '../deploy/backends/local/free-port.js';
import { SLUICE_ROOT } from '../test/support/paths.js';
import { startSluiceProcess } from './support/sluice-process.js';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 32);
const RESPONDER = join(SLUICE_ROOT, 'dist', 'load-tests', 'upstreams', 'grpc-responder.js');
/** A ModelInferRequest for model "bench": field 1, then one FP32 input of 4 values. */
const MESSAGE = Buffer.concat([Buffer.from([0x0a, 0x05]), Buffer.from('bench'), Buffer.from([0x2a, 0x0b, 0x0a, 0x01, 0x78, 0x12, 0x04]), Buffer.from('FP32'), Buffer.from([0x1a, 0x01, 0x04])]);
const FRAME = Buffer.concat([Buffer.from([0, 0, 0, 0, MESSAGE.length]), MESSAGE]);

interface Result {
  name: string;
  calls: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerCall: number | null;
}

/** User + system clock ticks of a process, with its children's when asked (nginx's workers; not Sluice's replicas). */
function cpuTicks(pid: number, withChildren: boolean): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  let children: number[] = [];
  if (withChildren) try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    // no children file: count the process alone
  }
  return Number(f[11]) + Number(f[12]) + children.reduce((a, c) => a + cpuTicks(c, true), 0);
}

function call(session: ClientHttp2Session, authority: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = session.request({ ':method': 'POST', ':path': '/inference.GRPCInferenceService/ModelInfer', ':authority': authority, 'content-type': 'application/grpc', te: 'trailers' });
    let status: string | undefined;
    s.on('response', (h) => (status = h['grpc-status'] as string | undefined));
    s.on('trailers', (t) => (status = t['grpc-status'] as string | undefined));
    s.on('data', () => {});
    s.on('error', () => {});
    s.on('close', () => resolve(status === '0'));
    s.end(FRAME);
  });
}

async function measure(name: string, url: string, authority: string, pids: number[], withChildren = false): Promise<Result> {
  // A proxy may end a connection (GOAWAY) after so many calls: the client then opens another, as a channel does.
  const open = (): ClientHttp2Session => {
    const u = new URL(url);
    const s = connect(url, { createConnection: () => netConnect({ host: u.hostname, port: Number(u.port), noDelay: true }) });
    s.on('error', () => {});
    return s;
  };
  let session = open();
  const live = (): ClientHttp2Session => {
    if (session.closed || session.destroyed || (session.state.remoteWindowSize ?? 1) < 0) {
      session = open();
    }
    return session;
  };
  const run = async (ms: number, lat: number[] | null): Promise<{ calls: number; errors: number }> => {
    const end = performance.now() + ms;
    let calls = 0;
    let errors = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < end) {
          const t0 = performance.now();
          let ok = false;
          try {
            ok = await call(live(), authority);
          } catch {
            session.destroy();
          }
          lat?.push(performance.now() - t0);
          if (ok) calls++;
          else errors++;
        }
      }),
    );
    return { calls, errors };
  };
  await run(1000, null);
  const lat: number[] = [];
  const cpu0 = pids.reduce((a, p) => a + cpuTicks(p, withChildren), 0);
  const t0 = performance.now();
  const { calls, errors } = await run(seconds * 1000, lat);
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = pids.reduce((a, p) => a + cpuTicks(p, withChildren), 0);
  session.close();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  // Clock ticks are 10 ms (USER_HZ 100).
  const cpuUsPerCall = pids.length === 0 ? null : ((cpu1 - cpu0) * 10_000) / Math.max(1, calls);
  return { name, calls, errors, rps: calls / elapsed, p50: q(0.5), p99: q(0.99), cpuUsPerCall };
}

async function responder(): Promise<{ child: ChildProcess; grpcPort: number }> {
  const [port, grpcPort] = [await findFreePort('127.0.0.1'), await findFreePort('127.0.0.1')];
  const child = spawn(process.execPath, [RESPONDER, '--port', String(port), '--grpc-port', String(grpcPort)], { stdio: 'inherit' });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/v2/health/ready`)).ok) break;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, grpcPort };
}

async function main(): Promise<void> {
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'sluice-grpc-load-'));
  try {
    const direct = await responder();
    children.push(direct.child);
    // nginx: h2c listener, grpc_pass to the direct upstream with keep-alive.
    const nginxPort = await findFreePort('127.0.0.1');
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 4096; }\n` +
        `http {\n  access_log off;\n  client_body_temp_path ${dir}/cb;\n  proxy_temp_path ${dir}/p;\n  fastcgi_temp_path ${dir}/f;\n  uwsgi_temp_path ${dir}/u;\n  scgi_temp_path ${dir}/s;\n` +
        `  keepalive_requests 1000000;\n  upstream grpc_models { server 127.0.0.1:${direct.grpcPort}; keepalive 64; }\n` +
        `  server {\n    listen 127.0.0.1:${nginxPort} http2;\n    location / { grpc_pass grpc://grpc_models; }\n  }\n}\n`,
    );
    const nginx = spawn('nginx', ['-e', `${dir}/error.log`, '-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'inherit' });
    children.push(nginx);
    // Sluice: a service whose replica is the same responder, started by the local backend with a gRPC port.
    const cfg = join(dir, 'sluice');
    mkdirSync(cfg);
    writeFileSync(
      join(cfg, 'bench.yaml'),
      `apiVersion: serving.kserve.io/v1alpha1\nkind: ClusterServingRuntime\nmetadata:\n  name: grpc-responder\nspec:\n  supportedModelFormats: [{name: bench, autoSelect: false}]\n  protocolVersions: [grpc-v2]\n  containers:\n    - name: kserve-container\n      image: sluice/grpc-responder:0\n      ports: [{name: h2c, containerPort: 8081}]\n---\n` +
        `apiVersion: sluice.dev/v1alpha1\nkind: LocalLaunchRecipe\nmetadata:\n  name: grpc-responder\nspec:\n  command: "{{node}}"\n  args: ["${RESPONDER}", "--port", "{{port}}", "--grpc-port", "{{grpcPort}}"]\n  env: {}\n  readinessPath: /v2/health/ready\n  startupTimeoutSeconds: 30\n---\n` +
        `apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: bench\nspec:\n  predictor:\n    minReplicas: 1\n    maxReplicas: 1\n    model:\n      modelFormat: {name: bench}\n      runtime: grpc-responder\n      protocolVersion: grpc-v2\n`,
    );
    const nodeArgs = (process.env['SLUICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const sluice = await startSluiceProcess(cfg, { nodeArgs });
    try {
      // Ready when a call through it succeeds (the replica is up and announced).
      const probe = connect(sluice.dataUrl);
      probe.on('error', () => {});
      for (let i = 0; i < 300 && !(await call(probe, 'bench.default.example.com')); i++) await new Promise((r) => setTimeout(r, 100));
      probe.close();
      const results: Result[] = [];
      results.push(await measure('direct', `http://127.0.0.1:${direct.grpcPort}`, 'bench', []));
      results.push(await measure('sluice (by :authority)', sluice.dataUrl, 'bench.default.example.com', [sluice.pid]));
      results.push(await measure('sluice (by model name)', sluice.dataUrl, new URL(sluice.dataUrl).host, [sluice.pid]));
      results.push(await measure('nginx grpc_pass', `http://127.0.0.1:${nginxPort}`, 'bench', [nginx.pid!], true));
      const base = results[0]!.rps;
      console.log(`gRPC unary ModelInfer, ${seconds} s per path, ${concurrency} calls in flight on one HTTP/2 connection`);
      console.log('path                      calls/s   ratio   p50 ms   p99 ms   errors   proxy CPU µs/call');
      for (const r of results)
        console.log(
          `${r.name.padEnd(24)} ${r.rps.toFixed(0).padStart(8)} ${(r.rps / base).toFixed(2).padStart(7)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${String(r.errors).padStart(8)}   ${r.cpuUsPerCall === null ? '-' : r.cpuUsPerCall.toFixed(0)}`,
        );
    } finally {
      await sluice.stop();
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
