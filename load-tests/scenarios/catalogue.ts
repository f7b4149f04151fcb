import { batching } from './batching.js';
import { bigList } from './big-list.js';
import { canary } from './canary.js';
import { forwarders } from './forwarders.js';
import { ingressLimits } from './ingress-limits.js';
import { latency } from './latency.js';
import { logging } from './logging.js';
import { manyReplicas } from './many-replicas.js';
import { coldStart } from './cold-start.js';
import { connectionChurn, saturation, scaleOut } from './saturation.js';
import type { Scenario } from './scenario.js';
import { soak } from './soak.js';
import { stepSpike } from './step-spike.js';
import { tracing } from './tracing.js';

/** Every scenario, in the order `all` runs them. */
export const SCENARIOS: ReadonlyArray<Scenario> = [saturation, scaleOut, connectionChurn, latency, forwarders, coldStart, canary, stepSpike, soak, manyReplicas, bigList, tracing, batching, ingressLimits, logging];
