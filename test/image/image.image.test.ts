/**
 * The container image, built and run on this machine (`npm run test:image`, config vitest.image.config.ts; run by
 * .ci/run, which installs podman, buildah, umoci and runc). Builds the image from scratch
 * (scripts/image/build-image.sh), unpacks it into an OCI bundle (scripts/image/runc-bundle.mjs: no rlimits, no
 * cgroup limits, read-only root, every capability dropped, a writable state volume, the host's network) and runs
 * `sluice serve` in it under runc. The demo runtime is not part of the image: its compiled code and the iris model
 * are bind-mounted read-only, and the replica is a child process Sluice's local backend starts inside the
 * container with the image's own Node binary.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SLUICE_ROOT } from '../support/paths.js';
import { waitUntil } from '../support/wait.js';

const TAG = 'localhost/sluice:image-test';
const ID = `sluice-image-test-${process.pid}`;
const TOOLS = ['podman', 'buildah', 'umoci', 'runc'];

function requireTools(): void {
  const missing = TOOLS.filter((t) => {
    try {
      execFileSync(t, ['--version'], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) throw new Error(`the image suite needs ${missing.join(', ')}: apt-get install ${missing.join(' ')} (.ci/run does)`);
  if (process.getuid?.() !== 0) throw new Error('the image suite runs runc and podman as root (rootless runc needs a user namespace setup this suite does not make)');
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function sh(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): string {
  return execFileSync(cmd, args, { cwd: SLUICE_ROOT, encoding: 'utf8', timeout: opts.timeoutMs ?? 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A command run without blocking the worker (a synchronous build of minutes starves vitest's RPC). */
function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: SLUICE_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-20_000)));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err}`))));
  });
}

function keyValues(path: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('container image under runc', () => {
  const work = mkdtempSync(join(tmpdir(), 'sluice-image-'));
  const out = join(work, 'out');
  const bundle = join(work, 'bundle');
  const state = join(work, 'state');
  const token = randomBytes(24).toString('base64url');
  let ports: { data: number; admin: number; metrics: number };
  let runc: ChildProcess | null = null;
  let logs = '';
  let startMs = 0;
  let exited: Promise<number | null>;

  beforeAll(async () => {
    requireTools();
    if (!existsSync(join(SLUICE_ROOT, 'dist/examples/demo-runtime/main.js'))) throw new Error('dist/ is not built: npm run build (npm run test:image does)');
    await run('bash', ['scripts/image/build-image.sh', TAG, out]);
    // Port 0 everywhere: with the host's network, ports picked ahead could be taken by the time Sluice binds them.
    // Sluice logs the ports it got in its "sluice is serving" line, printed once it listens.
    sh('node', [
      'scripts/image/runc-bundle.mjs',
      '--image', TAG,
      '--bundle', bundle,
      '--state-dir', state,
      '--host-network',
      '--mount', `${join(SLUICE_ROOT, 'examples')}:/app/examples:ro`,
      '--mount', `${join(SLUICE_ROOT, 'dist/examples')}:/app/dist/examples:ro`,
      '--env', `SLUICE_ADMIN_TOKEN=${token}`,
      '--env', 'SLUICE_DATA_PORT=0',
      '--env', 'SLUICE_ADMIN_PORT=0',
      '--env', 'SLUICE_METRICS_PORT=0',
      '--', 'serve', '--config', 'examples',
    ]);
    const t0 = performance.now();
    runc = spawn('runc', ['run', '--bundle', bundle, ID], { stdio: ['ignore', 'pipe', 'pipe'] });
    runc.stdout!.on('data', (d: Buffer) => (logs += d.toString()));
    runc.stderr!.on('data', (d: Buffer) => (logs += d.toString()));
    exited = new Promise((resolve) => runc!.once('exit', (code) => resolve(code)));
    ports = await waitUntil(
      'the container to log that it serves',
      () => {
        if (runc!.exitCode !== null) throw new Error(`runc run exited ${runc!.exitCode}:\n${logs}`);
        const line = logs.split('\n').find((l) => l.includes('"msg":"sluice is serving"'));
        if (!line) return undefined;
        const o = JSON.parse(line) as { data: number; admin: number; metrics: number };
        return { data: o.data, admin: o.admin, metrics: o.metrics };
      },
      30_000,
      5,
    );
    startMs = performance.now() - t0;
    expect(await connects(ports.data)).toBe(true);
    await waitUntil('/readyz', async () => (await fetch(`http://127.0.0.1:${ports.admin}/readyz`).catch(() => null))?.status === 200, 30_000);
    // A number for docs/container.md, not an assertion (performance numbers are not asserted in tests).
    process.stdout.write(`image suite: runc run → listening in ${startMs.toFixed(0)} ms; ${readFileSync(join(out, 'image.txt'), 'utf8').replace(/\n/g, ' ')}\n`);
  }, 1_200_000);

  afterAll(async () => {
    if (runc && runc.exitCode === null) {
      try {
        execFileSync('runc', ['kill', ID, 'TERM'], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
      if (code === 'timeout') execFileSync('runc', ['kill', ID, 'KILL'], { stdio: 'ignore' });
    }
    try {
      execFileSync('runc', ['delete', '--force', ID], { stdio: 'ignore' });
    } catch {
      // never created
    }
    try {
      execFileSync('podman', ['rmi', '--force', TAG], { stdio: 'ignore' });
    } catch {
      // not built
    }
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('answers a v1 predict and a v2 infer through the container, from a replica it starts inside', async () => {
    const v1 = await fetch(`http://127.0.0.1:${ports.data}/v1/models/iris:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: [[6.8, 2.8, 4.8, 1.4]] }),
    });
    expect(v1.status, logs).toBe(200);
    expect(await v1.json()).toEqual({ predictions: [1] });
    expect(Number(v1.headers.get('x-sluice-cold-start'))).toBeGreaterThan(0);
    const v2 = await fetch(`http://127.0.0.1:${ports.data}/v2/models/iris/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'input-0', shape: [2, 4], datatype: 'FP32', data: [6.8, 2.8, 4.8, 1.4, 5.1, 3.5, 1.4, 0.2] }] }),
    });
    expect(v2.status, logs).toBe(200);
    expect(((await v2.json()) as { outputs: Array<{ data: number[] }> }).outputs[0]!.data).toEqual([1, 0]);
    // The replica is the container's child: its process runs the image's Node binary from the mounted demo code.
    const pids = sh('runc', ['ps', '--format', 'json', ID]);
    const cmdlines = (JSON.parse(pids) as number[]).map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    expect(cmdlines.some((c) => c.startsWith('/usr/local/bin/node /app/dist/examples/demo-runtime/main.js'))).toBe(true);
  });

  it('runs as uid 65532 on a read-only root; only the state volume and /tmp are writable', () => {
    const probe = `
      const fs = require('node:fs');
      const tryWrite = (p) => { try { fs.writeFileSync(p, 'x'); fs.rmSync(p); return 'ok'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), app: tryWrite('/app/x'), root: tryWrite('/x'),
        state: tryWrite('/var/lib/sluice/x'), tmp: tryWrite('/tmp/x'), caps: fs.readFileSync('/proc/self/status', 'utf8').match(/CapEff:\\s*(\\w+)/)[1] }));`;
    const seen = JSON.parse(sh('runc', ['exec', ID, '/usr/local/bin/node', '-e', probe])) as Record<string, unknown>;
    expect(seen).toEqual({ uid: 65532, gid: 65532, app: 'EROFS', root: 'EROFS', state: 'ok', tmp: 'ok', caps: '0000000000000000' });
    // The server itself (the container's first process), seen from the host.
    const status = sh('runc', ['state', ID]);
    const pid = (JSON.parse(status) as { pid: number }).pid;
    expect(readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    // What Sluice keeps lands in the volume, owned by the image's user.
    expect(readdirSync(state).length).toBeGreaterThan(0);
    expect(statSync(state).uid).toBe(65532);
  });

  it('has no shell or package manager, and none of the tests, load tests or examples', () => {
    const rootfs = join(bundle, 'rootfs');
    for (const absent of ['bin/sh', 'bin/bash', 'usr/bin', 'usr/local/bin/npm', 'app/dist/test', 'app/dist/load-tests', 'app/test', 'app/load-tests']) {
      expect(existsSync(join(rootfs, absent)), absent).toBe(false);
    }
    // dist/examples exists only as the mount point of this suite's bind mount.
    expect(readdirSync(join(rootfs, 'app/dist/examples'))).toEqual([]);
    const rootfsTxt = keyValues(join(out, 'rootfs.txt'));
    expect(Number(rootfsTxt['production_dependencies'])).toBeGreaterThan(10);
    const sbom = JSON.parse(readFileSync(join(out, 'sbom.cdx.json'), 'utf8')) as { bomFormat: string; components: Array<{ name: string }> };
    expect(sbom.bomFormat).toBe('CycloneDX');
    expect(sbom.components.map((c) => c.name)).toEqual(expect.arrayContaining(['undici', 'pino', '@kubernetes/client-node']));
    expect(sbom.components.map((c) => c.name)).not.toContain('vitest');
  });

  it('the admin API off loopback asks for the token', async () => {
    expect((await fetch(`http://127.0.0.1:${ports.admin}/apis/serving.kserve.io/v1beta1/inferenceservices`)).status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${ports.admin}/apis/serving.kserve.io/v1beta1/inferenceservices`, { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status).toBe(200);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    execFileSync('runc', ['kill', ID, 'TERM']);
    expect(await exited).toBe(0);
    expect(logs).toContain('SIGTERM: finishing in-flight requests');
  });

  it('without SLUICE_ADMIN_TOKEN, serve refuses to start (its admin API listens off loopback in the image)', async () => {
    execFileSync('runc', ['delete', '--force', ID], { stdio: 'ignore' });
    const configPath = join(bundle, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { process: { env: string[] } };
    config.process.env = config.process.env.filter((e) => !e.startsWith('SLUICE_ADMIN_TOKEN='));
    writeFileSync(configPath, JSON.stringify(config));
    const child = spawn('runc', ['run', '--bundle', bundle, `${ID}-notoken`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    execFileSync('runc', ['delete', '--force', `${ID}-notoken`], { stdio: 'ignore' });
    expect(code).toBe(1);
    expect(out).toContain('an explicit token is required: set --admin-token or SLUICE_ADMIN_TOKEN');
  });
});
