#!/usr/bin/env node
/**
 * Time from `runc run` to the data port accepting connections, for Sluice's image (`sluice serve`, no config folder,
 * an empty state volume each time), over several starts. Needs root, podman, umoci and runc; builds a bundle with
 * runc-bundle.mjs. Each start is paired with a baseline in the same round: the same `serve` started straight from
 * this checkout's dist/ by this machine's node, no container (run `npm run build` first), and the floor: the same
 * container running only `node -e "http.createServer().listen(port)"`. Reports the medians in ms.
 *
 *   node scripts/image/measure-start.mjs [--image localhost/sluice:dev] [--runs 7]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { image: { type: 'string', default: 'localhost/sluice:dev' }, runs: { type: 'string', default: '7' } } });
const runs = Number(values.runs);
const here = fileURLToPath(new URL('.', import.meta.url));
const port = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
const connects = (p) =>
  new Promise((resolve) => {
    const c = createConnection({ port: p, host: '127.0.0.1' });
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'sluice-start-'));
const ports = { data: await port(), admin: await port(), metrics: await port() };
const bundle = join(work, 'bundle');
execFileSync(process.execPath, [
  join(here, 'runc-bundle.mjs'), '--image', values.image, '--bundle', bundle, '--state-dir', join(work, 'state'), '--host-network',
  '--env', `SLUICE_ADMIN_TOKEN=${'t'.repeat(32)}`, '--env', `SLUICE_DATA_PORT=${ports.data}`,
  '--env', `SLUICE_ADMIN_PORT=${ports.admin}`, '--env', `SLUICE_METRICS_PORT=${ports.metrics}`,
], { stdio: ['ignore', 'ignore', 'inherit'] });
const configPath = join(bundle, 'config.json');
const sluiceConfig = readFileSync(configPath, 'utf8');
const floorConfig = JSON.parse(sluiceConfig);
// PID 1 in its namespace: without a handler, SIGTERM would be ignored.
floorConfig.process.args = ['/usr/local/bin/node', '-e', `process.on('SIGTERM', () => process.exit(0)); require('node:http').createServer().listen(${ports.data}, '0.0.0.0')`];
const times = [];
const baseline = [];
const floor = [];
async function inContainer(config, id) {
  writeFileSync(configPath, config);
  rmSync(join(work, 'state'), { recursive: true, force: true });
  execFileSync('install', ['-d', '-m', '0700', '-o', '65532', '-g', '65532', join(work, 'state')]);
  const t0 = performance.now();
  const child = spawn('runc', ['run', '--bundle', bundle, id], { stdio: 'ignore' });
  const ms = await startedIn(child, t0);
  const exited = new Promise((r) => child.once('exit', r));
  execFileSync('runc', ['kill', id, 'TERM']);
  if ((await Promise.race([exited, sleep(15_000).then(() => 'timeout')])) === 'timeout') {
    execFileSync('runc', ['kill', id, 'KILL']);
    await exited;
  }
  execFileSync('runc', ['delete', '--force', id], { stdio: 'ignore' });
  return ms;
}
const env = { ...process.env, SLUICE_ADMIN_TOKEN: 't'.repeat(32), SLUICE_DATA_PORT: String(ports.data), SLUICE_ADMIN_PORT: String(ports.admin), SLUICE_METRICS_PORT: String(ports.metrics), SLUICE_ADMIN_HOST: '0.0.0.0', SLUICE_LOG_FORMAT: 'json' };
async function startedIn(child, t0) {
  while (!(await connects(ports.data))) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}`);
    if (performance.now() - t0 > 30_000) throw new Error('not listening after 30 s');
    await sleep(2);
  }
  return performance.now() - t0;
}
try {
  for (let i = 0; i < runs; i++) {
    {
      rmSync(join(work, 'host-state'), { recursive: true, force: true });
      const t0 = performance.now();
      const child = spawn(process.execPath, ['--max-semi-space-size=64', join(here, '../../dist/cli/main.js'), 'serve', '--state-dir', join(work, 'host-state')], { stdio: 'ignore', env });
      baseline.push(await startedIn(child, t0));
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    times.push(await inContainer(sluiceConfig, `sluice-start-${process.pid}-${i}`));
    floor.push(await inContainer(JSON.stringify(floorConfig), `sluice-floor-${process.pid}-${i}`));
    process.stdout.write(`round ${i + 1}: runc run ${times.at(-1).toFixed(0)} ms, host process ${baseline.at(-1).toFixed(0)} ms, bare node in the container ${floor.at(-1).toFixed(0)} ms\n`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
process.stdout.write(`runc run → listening: ${spread(times)}; host process → listening: ${spread(baseline)}; bare node http server under runc: ${spread(floor)}; container/host ${(median(times) / median(baseline)).toFixed(2)} over ${runs} rounds\n`);
