import { fileURLToPath } from 'node:url';
import { spawnService, type ChildRegistry, type ChildService } from '../harness/child-process.js';
import type { UpstreamPair } from '../systems/system.js';
import type { ResponderStats } from './json-responder.js';

export interface RunningUpstreams extends UpstreamPair {
  pids: [number, number];
  stats(): Promise<[ResponderStats, ResponderStats]>;
  stop(): Promise<void>;
}

const responderScript = fileURLToPath(new URL('./json-responder.js', import.meta.url));

/** Starts the two JSON responders (primary, canary) as separate processes, as real replicas would be. */
export async function startUpstreamPair(children: ChildRegistry): Promise<RunningUpstreams> {
  const services: ChildService[] = [];
  try {
    for (const name of ['primary', 'canary']) {
      services.push(
        await spawnService(children, {
          command: process.execPath,
          args: [responderScript, name],
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
