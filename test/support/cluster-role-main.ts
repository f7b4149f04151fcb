/**
 * One cluster role (gateway, controller or autoscaler) as its own process, started the way `sluice <role>` starts
 * it, with the test-only knobs the CLI has no flags for (lease timings). Used by test/support/fleet.ts.
 *
 *   node dist/test/support/cluster-role-main.js '<RoleProcessSpec as JSON>'
 *
 * Prints one JSON line `{"msg":"role ready",adminUrl,metricsUrl,dataUrl}` on stdout when it serves; logs (JSON
 * lines) go to stderr. SIGTERM closes the role cleanly and exits 0.
 */
import { startClusterAutoscaler, startClusterController, startClusterGateway, type ClusterRole } from '../../cli/cluster.js';
import { resolveServeConfig } from '../../core/config.js';
import { createLogger } from '../../core/log.js';

export interface RoleProcessSpec {
  role: 'gateway' | 'controller' | 'autoscaler';
  identity: string;
  kubeconfig: string;
  group: string;
  redisUrl: string;
  runtimes?: string[];
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** Settings (keys of core/config-table.ts). */
  config: Record<string, unknown>;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as RoleProcessSpec;
  const config = resolveServeConfig(spec.config);
  const logger = createLogger({ level: config.logLevel, format: 'json', name: `${spec.role}:${spec.identity}`, out: process.stderr });
  const o = {
    config,
    kubeconfig: spec.kubeconfig,
    group: spec.group,
    redisUrl: spec.redisUrl,
    identity: spec.identity,
    runtimes: spec.runtimes,
    leaseDurationMs: spec.leaseDurationMs,
    retryPeriodMs: spec.retryPeriodMs,
    logger,
  };
  const start = { gateway: startClusterGateway, controller: startClusterController, autoscaler: startClusterAutoscaler }[spec.role];
  const role: ClusterRole = await start(o);
  process.stdout.write(`${JSON.stringify({ msg: 'role ready', adminUrl: role.adminUrl, metricsUrl: role.metricsUrl, dataUrl: role.dataUrl })}\n`);
  process.once('SIGTERM', () => {
    role.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`cluster role failed to start: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
