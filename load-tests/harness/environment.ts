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
}

export function describeEnvironment(): Environment {
  const [one, five, fifteen] = loadavg() as [number, number, number];
  return {
    date: new Date().toISOString(),
    nproc: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverage: [one, five, fifteen],
    node: process.version,
    nginx: which('nginx') ? versionOf('nginx', ['-v']) : 'not installed',
    haproxy: which('haproxy') ? versionOf('haproxy', ['-v']) : 'not installed',
  };
}

export function environmentMarkdown(before: Environment, loadAfter: [number, number, number]): string {
  const fmt = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' / ');
  return [
    '| machine | |',
    '|---|---|',
    `| date (UTC) | ${before.date} |`,
    `| nproc | ${before.nproc} (${before.cpuModel}), ${before.memoryGiB} GiB, shared machine, nothing pinned |`,
    `| load average 1/5/15 min, before → after | ${fmt(before.loadAverage)} → ${fmt(loadAfter)} |`,
    `| node | ${before.node} |`,
    `| nginx | ${before.nginx} |`,
    `| haproxy | ${before.haproxy} |`,
  ].join('\n');
}
