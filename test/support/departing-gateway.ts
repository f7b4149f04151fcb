/**
 * One gateway's capacity accounting (RedisMembership + Activator, the cluster wiring) as a real process, for a test
 * that SIGKILLs it with requests in flight. Run as `node dist/test/support/departing-gateway.js '<json>'`
 * (DepartingGatewayOptions): it joins, waits until its share of the one replica is `share`, takes `leases` slots
 * for requests with `timeoutMs` to run, prints `{"ready":true}` and waits to be killed. It forwards nothing: the
 * leases are what a forward holds while its request runs on the replica.
 */
import { fileURLToPath } from 'node:url';
import { Activator, type RevisionLabels } from '../../activator/activator.js';
import { SystemClock, type Clock } from '../../core/clock.js';
import { silentLogger, type Logger } from '../../core/log.js';
import type { GatewayMembership } from '../../core/membership.js';
import { SluiceMetrics } from '../../core/metrics.js';
import { RedisMembership } from '../../core/redis-membership.js';

/** An Activator over `membership` that knows one revision with one ready replica (probes always pass). */
export function oneRevisionActivator(o: {
  clock: Clock;
  membership: GatewayMembership;
  key: string;
  labels: RevisionLabels;
  endpoint: { id: string; url: string; capacity: number };
  logger?: Logger;
}): Activator {
  const activator = new Activator({
    clock: o.clock,
    metrics: new SluiceMetrics(),
    logger: o.logger ?? silentLogger(),
    limits: { maxHeldPerRevision: 100, maxHeldTotal: 100, maxHeldBytesPerRevision: 1e9, maxHeldBytesTotal: 1e9, retryAfterSeconds: 1 },
    poke: () => {},
    probes: { probe: async () => true, healthIntervalMs: 0 },
    membership: o.membership,
  });
  activator.addRevision(o.key, o.labels);
  activator.onEndpointEvent({ type: 'ready', endpoint: { ...o.endpoint, revisionKey: o.key, readinessPath: '/' } });
  return activator;
}

export interface DepartingGatewayOptions {
  redisUrl: string;
  prefix: string;
  self: string;
  leaseMs: number;
  heartbeatMs: number;
  key: string;
  labels: { namespace: string; service: string; revision: string };
  endpoint: { id: string; url: string; capacity: number };
  share: number;
  leases: number;
  timeoutMs: number;
}

async function main(o: DepartingGatewayOptions): Promise<void> {
  const clock = new SystemClock();
  const membership = new RedisMembership({ url: o.redisUrl, self: o.self, clock, prefix: o.prefix, leaseMs: o.leaseMs, heartbeatMs: o.heartbeatMs });
  await membership.start();
  const activator = oneRevisionActivator({ clock, membership, key: o.key, labels: o.labels, endpoint: o.endpoint });
  const deadline = Date.now() + 20_000;
  while (activator.replicas(o.key)[0]?.limit !== o.share) {
    if (Date.now() > deadline) throw new Error(`departing gateway: its limit never reached its share ${o.share} (${JSON.stringify(activator.replicas(o.key))})`);
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let i = 0; i < o.leases; i++) {
    const l = activator.acquire(o.key, { deadlineAt: clock.now() + o.timeoutMs, bytes: 0 });
    if ('then' in l) throw new Error('departing gateway: expected a slot at once');
  }
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  setInterval(() => {}, 1 << 30);
}

// Run as a script only (tests import oneRevisionActivator from here).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(JSON.parse(process.argv[2]) as DepartingGatewayOptions).catch((err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  });
}
