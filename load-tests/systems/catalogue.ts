import { direct } from './direct.js';
import { forwarderSystem } from './forwarder-systems.js';
import { haproxy } from './haproxy.js';
import { nginx, nginxTwoWorkers } from './nginx.js';
import { sluice, sluiceAa, sluiceAlt, sluiceLimitRules, sluiceLimits, sluiceNodeHttp, sluiceTwoWorkers } from './sluice.js';
import type { SystemDefinition } from './system.js';

/** Every system a scenario can name. Add a system here and list its name in the scenarios that compare it. */
export const SYSTEMS: ReadonlyArray<SystemDefinition> = [
  direct,
  nginx,
  haproxy,
  sluice,
  nginxTwoWorkers,
  sluiceTwoWorkers,
  sluiceLimits,
  sluiceAa,
  ...sluiceLimitRules,
  sluiceNodeHttp,
  sluiceAlt,
  forwarderSystem('node-http'),
  forwarderSystem('undici-dispatch'),
  forwarderSystem('undici-stream'),
  forwarderSystem('undici-request'),
  forwarderSystem('http-proxy'),
  forwarderSystem('http-proxy-3'),
];

export function systemNamed(name: string): SystemDefinition {
  const found = SYSTEMS.find((s) => s.name === name);
  if (!found) throw new Error(`unknown system ${name}; known: ${SYSTEMS.map((s) => s.name).join(', ')}`);
  return found;
}
