/** Prints the start-up banner of `sluice serve` to stderr when its logs are for a person (pretty). */
import { resolve } from 'node:path';
import { resolveLogFormat } from '../core/log-pretty.js';
import { DEFAULT_STATE_DIR } from '../core/state-dir.js';
import type { ServeConfig } from '../core/config.js';
import { adminServer } from './admin-credentials.js';
import { isLoopbackAddress } from '../deploy/admin-guard.js';
import { cliInvocation, exposures, serveBanner, type BannerService } from './banner.js';
import type { Embedded } from './embedded.js';

export function printServeBanner(sluice: Embedded, config: ServeConfig, out: NodeJS.WriteStream = process.stderr): void {
  const logs = resolveLogFormat(config.logFormat, process.stdout.isTTY === true);
  if (logs !== 'pretty') return;
  const services: BannerService[] = sluice.controller.list().map((s) => {
    const model = s.spec.predictor.model;
    const status = (s as { status?: { url?: unknown } }).status;
    return {
      namespace: s.metadata.namespace ?? 'default',
      name: s.metadata.name,
      ...(model?.runtime ? { runtime: model.runtime } : {}),
      ...(model?.protocolVersion ? { protocolVersion: model.protocolVersion } : {}),
      ...(typeof status?.url === 'string' ? { url: status.url } : {}),
    };
  });
  out.write(
    serveBanner({
      dataUrl: sluice.dataUrl,
      adminUrl: sluice.adminUrl,
      metricsUrl: sluice.metricsUrl,
      stateDir: sluice.stateDir,
      logs,
      cli: cliInvocation(process.env, process.argv[1] ?? 'sluice', process.cwd()),
      defaultAdminUrl: adminServer({}),
      defaultStateDir: resolve(process.env.SLUICE_STATE_DIR ?? DEFAULT_STATE_DIR),
      services,
      exposed: exposures(config, isLoopbackAddress),
      workers: config.workers,
    }),
  );
}
