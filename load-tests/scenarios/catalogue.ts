import { canary } from './canary.js';
import { forwarders } from './forwarders.js';
import { latency } from './latency.js';
import { coldStart } from './pending.js';
import { saturation } from './saturation.js';
import type { Scenario } from './scenario.js';
import { stepSpike } from './step-spike.js';

/** Every scenario, in the order `all` runs them. */
export const SCENARIOS: ReadonlyArray<Scenario> = [saturation, latency, forwarders, coldStart, canary, stepSpike];
