/**
 * `--pin` (load-tests/harness/settings.ts): the systems under test on CPU 1, everything else on CPU 0. What a
 * run relies on: a pinned registry's children really run on the CPU named, the unpinned ones are left alone, and
 * the option is refused for a scenario whose processes it would not place.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildRegistry, spawnService } from '../../load-tests/harness/child-process.js';
import { parseSettings } from '../../load-tests/harness/settings.js';

const LISTENER = `const s = require('node:net').createServer().listen(0, '127.0.0.1', () => console.log('LISTENING ' + s.address().port)); process.stdin.resume(); process.stdin.on('end', () => process.exit(0));`;

/** The CPUs a process may run on, as the kernel lists them (e.g. "1" or "0-1"). */
function allowedCpus(pid: number): string {
  return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!;
}

const registry = new ChildRegistry();
afterEach(() => registry.stopAll());

describe('--pin', () => {
  it('runs what a pinned registry spawns on that CPU only, and leaves the rest where the harness is', async () => {
    // This machine kind has 2 CPUs; with fewer, --pin refuses to run (run.ts) and so does this test.
    expect(cpus().length).toBeGreaterThanOrEqual(2);
    const pinned = await spawnService(registry.pinnedTo('1'), { command: process.execPath, args: ['-e', LISTENER], ready: { kind: 'prints-port' }, label: 'pinned' });
    const free = await spawnService(registry, { command: process.execPath, args: ['-e', LISTENER], ready: { kind: 'prints-port' }, label: 'free' });
    expect(allowedCpus(pinned.pid)).toBe('1');
    expect(allowedCpus(free.pid)).toBe(allowedCpus(process.pid));
    // One registry: stopping it ends the pinned child too.
    await registry.stopAll();
    expect(() => process.kill(pinned.pid, 0)).toThrow();
  });

  it('is refused for a scenario whose processes it would not place, naming it', () => {
    expect(parseSettings(['saturation', 'connection-churn', 'latency', 'ingress-limits', '--pin']).pin).toBe(true);
    expect(parseSettings(['saturation']).pin).toBe(false);
    expect(() => parseSettings(['saturation', 'cold-start', '--pin'])).toThrow(/--pin applies to saturation, connection-churn, latency, ingress-limits only, not cold-start/);
  });
});
