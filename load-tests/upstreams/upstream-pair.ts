import { fileURLToPath } from 'node:url';
import { compiledC } from '../harness/c-build.js';
import { spawnService, type ChildRegistry, type ChildService } from '../harness/child-process.js';
import { loadTestsPath } from '../harness/paths.js';
import type { UpstreamKind } from '../harness/settings.js';
import type { UpstreamPair } from '../systems/system.js';
import type { ResponderStats } from './json-responder.js';

export interface RunningUpstreams extends UpstreamPair {
  pids: [number, number];
  stats(): Promise<[ResponderStats, ResponderStats]>;
  stop(): Promise<void>;
}

const responderScript = fileURLToPath(new URL('./json-responder.js', import.meta.url));

/** The C responder's path (upstreams/responder.c, built with gcc on first use). */
export function responderBinary(): string {
  return compiledC(
    loadTestsPath('upstreams', 'responder.c'),
    'responder',
    'the C upstream (load-tests/upstreams/responder.c)',
    'or run with --upstream node',
  );
}

/**
 * Starts the two JSON responders (primary, canary) as separate processes, as real replicas would be: Node's
 * (json-responder.ts, with its delay and reset knobs) or, with `kind` `c`, responder.c (the same answer and
 * `/__stats`, no knobs, a fraction of the CPU).
 */
export async function startUpstreamPair(children: ChildRegistry, kind: UpstreamKind = 'node'): Promise<RunningUpstreams> {
  const services: ChildService[] = [];
  const program = kind === 'c' ? { command: responderBinary(), args: [] } : { command: process.execPath, args: [responderScript] };
  try {
    for (const name of ['primary', 'canary']) {
      services.push(
        await spawnService(children, {
          command: program.command,
          args: [...program.args, name],
          ready: { kind: 'prints-port' },
          label: `upstream ${name}`,
        }),
      );
    }
  } catch (err) {
    await Promise.all(services.map((s) => s.stop()));
    throw err;
  }
  const [a, b] = services as [ChildService, ChildService];
  const url = (s: ChildService): string => `http://127.0.0.1:${s.port}`;
  const statsOf = async (s: ChildService): Promise<ResponderStats> =>
    (await (await fetch(`${url(s)}/__stats`)).json()) as ResponderStats;
  return {
    primary: { url: url(a), port: a.port },
    canary: { url: url(b), port: b.port },
    weights: [9, 1],
    pids: [a.pid, b.pid],
    stats: async () => [await statsOf(a), await statsOf(b)],
    stop: async () => {
      await Promise.all(services.map((s) => s.stop()));
    },
  };
}
