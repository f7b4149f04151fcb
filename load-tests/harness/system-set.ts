import { systemNamed } from '../systems/catalogue.js';
import type { RunningSystem, StartOptions, SystemDefinition, UpstreamPair } from '../systems/system.js';

export interface StartedSystem {
  definition: SystemDefinition;
  running: RunningSystem;
}

export interface SystemSet {
  started: StartedSystem[];
  skipped: Array<{ name: string; reason: string }>;
  stop(): Promise<void>;
}

/** Starts the named systems against the upstreams; one that cannot run here is listed as skipped with why. */
export async function startSystems(
  names: readonly string[],
  upstreams: UpstreamPair,
  options: StartOptions,
  log: (line: string) => void,
): Promise<SystemSet> {
  const started: StartedSystem[] = [];
  const skipped: Array<{ name: string; reason: string }> = [];
  const stop = async (): Promise<void> => {
    await Promise.all(started.map((s) => s.running.stop().catch(() => undefined)));
  };
  try {
    for (const name of names) {
      const definition = systemNamed(name);
      const reason = await definition.unavailable?.();
      if (reason) {
        log(`skip ${name}: ${reason}`);
        skipped.push({ name, reason });
        continue;
      }
      started.push({ definition, running: await definition.start(upstreams, options) });
      log(`started ${name}`);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { started, skipped, stop };
}

/**
 * Runs `measure` for every system in every round, systems interleaved: round r goes through all systems
 * (starting at a different one each round, so no system always runs first or right after the heaviest).
 */
export async function interleaved<R>(
  systems: readonly StartedSystem[],
  rounds: number,
  measure: (system: StartedSystem, round: number) => Promise<R>,
): Promise<Map<string, R[]>> {
  const results = new Map<string, R[]>(systems.map((s) => [s.definition.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < systems.length; i++) {
      const system = systems[(i + round) % systems.length] as StartedSystem;
      results.get(system.definition.name)?.push(await measure(system, round));
    }
  }
  return results;
}
