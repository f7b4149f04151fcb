import { cpus, loadavg, totalmem } from 'node:os';
import { availableParallelism } from 'node:os';
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
  /** --pin: systems under test on CPU 1, the rest on CPU 0 */
  pinned: boolean;
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
    pinned,
  };
}

export function environmentMarkdown(before: Environment, loadAfter: [number, number, number]): string {
  const fmt = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    '| machine | |',
    '|---|---|',
    `| date (UTC) | ${before.date} |`,
    `| nproc | ${before.nproc} (${before.cpuModel}), ${before.memoryGiB} GiB, shared machine, ${before.pinned ? 'pinned (`--pin`): each system under test on CPU 1; the harness, its load generator and the upstreams on CPU 0' : 'nothing pinned'} |`,
    `| load average 1/5/15 min, before → after | ${fmt(before.loadAverage)} → ${fmt(loadAfter)} |`,
    `| node | ${before.node} |`,
    `| nginx | ${before.nginx} |`,
    `| haproxy | ${before.haproxy} |`,
  ].join('\n');
}
