#!/usr/bin/env node
/**
 * Turns Sluice's image into an OCI runtime bundle that `runc run` starts on a machine where `podman run` cannot
 * (one that refuses setrlimit, or has no usable cgroup controllers): `podman save --format oci-dir`, `umoci unpack`,
 * then config.json is edited:
 *   - process.rlimits and linux.resources (cgroup limits) are dropped; the caller's limits apply;
 *   - the root filesystem is read-only; /tmp is a tmpfs; the state directory is a bind mount of --state-dir
 *     (chowned to 65532, the image's user);
 *   - every capability is dropped (Kubernetes `capabilities.drop: [ALL]`), no new privileges;
 *   - --host-network drops the network namespace (runc creates no interfaces: without it only loopback exists).
 *
 *   node scripts/image/runc-bundle.mjs --image localhost/sluice:dev --bundle DIR --state-dir DIR
 *     [--host-network] [--mount SRC:DST[:ro]]... [--env NAME=VALUE]... [-- ARGS...]
 *
 * ARGS replace the image's CMD (`serve`); the entrypoint stays. Prints the bundle path. docs/container.md.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const IMAGE_UID = 65532;
const dash = process.argv.indexOf('--');
const { values } = parseArgs({
  args: process.argv.slice(2, dash === -1 ? undefined : dash),
  options: {
    image: { type: 'string', default: 'localhost/sluice:dev' },
    bundle: { type: 'string' },
    'state-dir': { type: 'string' },
    'host-network': { type: 'boolean', default: false },
    mount: { type: 'string', multiple: true, default: [] },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const fail = (message) => {
  process.stderr.write(`runc-bundle: ${message}\n`);
  process.exit(2);
};
if (!values.bundle) fail('--bundle DIR is required');
if (!values['state-dir']) fail('--state-dir DIR is required (the writable state volume)');
const args = dash === -1 ? null : process.argv.slice(dash + 1);
const bundle = resolve(values.bundle);
const stateDir = resolve(values['state-dir']);
for (const tool of ['podman', 'umoci']) {
  try {
    execFileSync(tool, ['--version'], { stdio: 'ignore' });
  } catch {
    fail(`${tool} is missing (apt-get install podman umoci runc)`);
  }
}
if (existsSync(bundle)) fail(`${bundle} exists; give a new folder`);

const layout = `${bundle}.oci`;
rmSync(layout, { recursive: true, force: true });
execFileSync('podman', ['save', '--quiet', '--format', 'oci-dir', '-o', layout, values.image], { stdio: ['ignore', 'ignore', 'inherit'] });
// umoci reads `path:tag`; podman names the manifest with the full reference (which has its own colon).
const indexPath = join(layout, 'index.json');
const index = JSON.parse(readFileSync(indexPath, 'utf8'));
index.manifests[0].annotations = { ...index.manifests[0].annotations, 'org.opencontainers.image.ref.name': 'sluice' };
writeFileSync(indexPath, JSON.stringify(index));
execFileSync('umoci', ['unpack', '--image', `${layout}:sluice`, bundle], { stdio: ['ignore', 'ignore', 'inherit'] });
rmSync(layout, { recursive: true, force: true });

mkdirSync(stateDir, { recursive: true, mode: 0o700 });
chownSync(stateDir, IMAGE_UID, IMAGE_UID);

const configPath = join(bundle, 'config.json');
const config = JSON.parse(readFileSync(configPath, 'utf8'));
const p = config.process;
p.terminal = false;
delete p.rlimits;
p.capabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
p.noNewPrivileges = true;
for (const kv of values.env) {
  const name = kv.split('=')[0];
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(kv)) fail(`--env ${kv}: expected NAME=VALUE`);
  p.env = p.env.filter((e) => !e.startsWith(`${name}=`)).concat(kv);
}
if (args) p.args = [...p.args.slice(0, 2), ...args];
config.root = { path: 'rootfs', readonly: true };
delete config.linux.resources;
delete config.linux.cgroupsPath;
if (values['host-network']) {
  config.linux.namespaces = config.linux.namespaces.filter((n) => n.type !== 'network');
  // sysfs cannot be mounted fresh outside a network namespace of one's own; bind the host's, read-only.
  config.mounts = config.mounts.map((m) =>
    m.destination === '/sys' ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] } : m,
  );
}
config.mounts = config.mounts.filter((m) => m.destination !== '/sys/fs/cgroup');
config.mounts.push(
  { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=65536k'] },
  { destination: '/var/lib/sluice', type: 'bind', source: stateDir, options: ['rbind', 'rw', 'nosuid', 'nodev', 'noexec'] },
);
for (const m of values.mount) {
  const [src, dst, mode] = m.split(':');
  if (!src || !dst || (mode !== undefined && mode !== 'ro')) fail(`--mount ${m}: expected SRC:DST or SRC:DST:ro`);
  if (!existsSync(src)) fail(`--mount ${m}: ${src} does not exist`);
  config.mounts.push({ destination: dst, type: 'bind', source: resolve(src), options: ['rbind', mode === 'ro' ? 'ro' : 'rw', 'nosuid', 'nodev'] });
}
writeFileSync(configPath, JSON.stringify(config, null, 2));
process.stdout.write(`${bundle}\n`);
