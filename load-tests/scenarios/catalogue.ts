import { forwarders } from './forwarders.js';
import { latency } from './latency.js';
import { coldStart } from './cold-start.js';
import { canary, stepSpike } from './pending.js';
import { saturation } from './saturation.js';
import type { Scenario } from './scenario.js';

/** Every scenario, in the order `all` runs them. */
export const SCENARIOS: ReadonlyArray<Scenario> = [saturation, latency, forwarders, coldStart, canary, stepSpike];
