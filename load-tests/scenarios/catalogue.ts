import { forwarders } from './forwarders.js';
import { latency } from './latency.js';
import { canary, coldStart, stepSpike } from './pending.js';
import { saturation } from './saturation.js';
import type { Scenario } from './scenario.js';
import { soak } from './soak.js';

/** Every scenario, in the order `all` runs them. */
export const SCENARIOS: ReadonlyArray<Scenario> = [saturation, latency, forwarders, coldStart, canary, stepSpike, soak];
