import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { versionOf, which } from '../baselines/install.js';

/** The machine facts every report starts with. */
export interface Environment {
  date: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  loadAverage: [number, number, number];
  node: string;
  nginx: string;
  haproxy: string;
  /** The kernel's release and the options on its command line that decide where and when processes run. */
  kernel: string;
  /** --pin: systems under test on CPU 1, the rest on CPU 0 */
  pinned: boolean;
  /** referenceWorkMs() when the report began */
  referenceMs: number;
}

export function describeEnvironment(pinned = false): Environment {
  const [one, five, fifteen] = loadavg() as [number, number, number];
  return {
    date: new Date().toISOString(),
    // (Pinned, this process may use one CPU: the machine's count is what the report means.)
    nproc: pinned ? cpus().length : availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: [one, five, fifteen],
    node: process.version,
    nginx: which('nginx') ? versionOf('nginx', ['-v']) : 'not installed',
    haproxy: which('haproxy') ? versionOf('haproxy', ['-v']) : 'not installed',
    kernel: describeKernel(release(), readOrEmpty('/proc/cmdline')),
    pinned,
    referenceMs: referenceWorkMs(),
  };
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Boot options that change how a proxy's tail looks on a shared machine: where the scheduler places processes
 * (`sched_*`, `isolcpus`, `nohz_full`, `rcu_nocbs`, `preempt`) and how an idle CPU waits to be woken (`idle`,
 * `cpuidle*`, `haltpoll*`). A VM's kernel may carry its own: the VM measured on 2026-12-07 (hotpath.md, twenty-fifth
 * session) booted with `sched_vcpu_pack=15`, which is not an upstream Linux option (by its name, it packs runnable
 * processes onto fewer virtual CPUs), and with the guest's halt polling off. The row lets a reader tell runs on two
 * such kernels apart.
 */
const SCHEDULING_OPTION = /^(sched_|isolcpus=|nohz|rcu_nocbs=|preempt=|idle=|cpuidle|haltpoll)/;

/** The kernel row: its release and the scheduling options on its command line (those before `--`, which go to init). */
export function describeKernel(kernelRelease: string, cmdline: string): string {
  const words = cmdline.trim().split(/\s+/);
  const end = words.indexOf('--');
  const options = [...new Set((end === -1 ? words : words.slice(0, end)).filter((w) => SCHEDULING_OPTION.test(w)))];
  return `${kernelRelease}; scheduling options on its command line: ${options.length ? options.join(' ') : 'none'}`;
}

let referenceHashed: Buffer | null = null;
let referenceWalk: Float64Array | null = null;

/**
 * A fixed piece of work timed on this machine, in ms (the median of 5 after one unmeasured run): a SHA-256 of
 * 4 MiB, 200,000 dependent reads at random places in a 64 MiB array (memory latency), and 500,000 small objects
 * (V8's young generation). The same work takes about the same time on idle machines of one kind; a host busy with other
 * guests makes it slower, which a VM's load average and steal time need not show. Reports print it before and
 * after a scenario, so that runs on two days, or on two machines of one kind, can be told apart.
 */
export function referenceWorkMs(): number {
  const hashed = (referenceHashed ??= Buffer.alloc(2 << 20, 0x5a));
  const walk = (referenceWalk ??= Float64Array.from({ length: 8 << 20 }, (_, i) => i));
  const once = (): number => {
    const t0 = performance.now();
    createHash('sha256').update(hashed).update(hashed).digest();
    let j = 0;
    let sum = 0;
    for (let i = 0; i < 200_000; i++) {
      j = (Math.imul(j, 1_103_515_245) + 12_345 + (walk[j]! & 1)) & (walk.length - 1);
      sum += walk[j]!;
    }
    let kept: Array<{ n: number; s: string }> = [];
    for (let i = 0; i < 500_000; i++) {
      kept.push({ n: i + sum, s: 'k' + (i & 1023) });
      if (kept.length === 4096) kept = [];
    }
    return performance.now() - t0;
  };
  once();
  const runs = [once(), once(), once(), once(), once()].sort((a, b) => a - b);
  return runs[2]!;
}

export function environmentMarkdown(before: Environment, loadAfter: [number, number, number], referenceAfterMs: number): string {
  const fmt = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    '| machine | |',
    '|---|---|',
    `| date (UTC) | ${before.date} |`,
    `| nproc | ${before.nproc} (${before.cpuModel}), ${before.memoryGiB} GiB, shared machine, ${before.pinned ? 'pinned (`--pin`): each system under test on CPU 1; the harness, its load generator and the upstreams on CPU 0' : 'nothing pinned'} |`,
    `| load average 1/5/15 min, before → after | ${fmt(before.loadAverage)} → ${fmt(loadAfter)} |`,
    `| reference work (harness/environment.ts \`referenceWorkMs\`), before → after | ${before.referenceMs.toFixed(0)} ms → ${referenceAfterMs.toFixed(0)} ms |`,
    `| node | ${before.node} |`,
    `| nginx | ${before.nginx} |`,
    `| haproxy | ${before.haproxy} |`,
    `| kernel | ${before.kernel} |`,
  ].join('\n');
}
