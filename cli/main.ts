#!/usr/bin/env -S node --max-semi-space-size=64
import { Command } from 'commander';
import { errorMessage } from '../core/errors.js';
import type { Role } from '../core/setting-kinds.js';
import type { AdminTarget } from './admin-credentials.js';
import type { Io } from './commands.js';
import type { Embedded } from './embedded.js';
import type { ClusterRole, ClusterRoleOptions } from './cluster.js';
import { addSettingOptions, configFromCommand } from './setting-options.js';
import type { TrafficFlags } from './traffic-commands.js';

// Each command loads its code when it runs, so `sluice get` does not load the server, the Kubernetes client,
// the schemas or the metrics library.
const commands = () => import('./commands.js');
const trafficCommands = () => import('./traffic-commands.js');
const topCommands = () => import('./top-command.js');
const cluster = () => import('./cluster.js');
const authCommands = () => import('./auth-commands.js');

const io: Io = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) };

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${v}"`);
    return n;
  };
}

/** The options of every command that talks to the admin API: where it is, and its token (cli/admin-credentials.ts). */
function adminOptions(cmd: Command): Command {
  return cmd
    .option('-s, --server <url>', 'admin API URL (default $SLUICE_SERVER or http://127.0.0.1:8081)')
    .option('--token <token>', 'admin token (default $SLUICE_TOKEN or $SLUICE_ADMIN_TOKEN, else the context of ~/.sluice/config, else for a local server the admin-token file in the state directory)')
    .option('--context <name>', 'a context of the CLI config ($SLUICE_CONFIG or ~/.sluice/config; default its current-context)')
    .option('--state-dir <dir>', "the server's state directory, where its admin-token file is (default $SLUICE_STATE_DIR or ./.sluice)");
}

export function buildProgram(): Command {
  const program = new Command('sluice')
    .description('Serverless request gateway and autoscaler for ML model runtimes (KServe InferenceService compatible)')
    .version('0.1.0')
    .showHelpAfterError();

  const serve = program
    .command('serve')
    .description('run every role in one process: gateway, activator, autoscaler, controller, local backend');
  addSettingOptions(serve, 'serve').action(async (_o: unknown, cmd: Command) => {
    const config = await configFromCommand(cmd, 'serve');
    // Signals are taken from the start: one that arrives while Sluice is starting (its admin API may already
    // answer /readyz) drains it as soon as it has started, instead of killing it with replicas still running.
    let sluice: Embedded | null = null;
    let stopping: string | null = null;
    const drain = (): void => {
      process.stderr.write(`${stopping}: finishing in-flight requests and stopping replicas\n`);
      sluice!.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    const stop = (signal: string): void => {
      if (stopping) return;
      stopping = signal;
      if (sluice) drain();
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    const { startEmbedded } = await import('./embedded.js');
    // --workers N > 1: this process keeps the control plane; N worker processes serve the data port (cli/workers.ts).
    let workers: import('./workers.js').WorkerPool | undefined;
    if (config.workers > 1) {
      const [{ WorkerPool }, { createLogger }] = await Promise.all([import('./workers.js'), import('../core/log.js')]);
      workers = new WorkerPool(config.workers, createLogger({ level: config.logLevel, format: config.logFormat }).child({ role: 'workers' }));
    }
    sluice = await startEmbedded({ config, configDir: config.configDir || null, watch: config.watch, workers });
    if (stopping) return drain();
    const { printServeBanner } = await import('./serve-banner.js');
    printServeBanner(sluice, config);
  });

  adminOptions(program.command('apply'))
    .description('create or replace InferenceServices from a YAML/JSON file')
    .requiredOption('-f, --filename <file>', 'file to apply (- for stdin)')
    .option('--dry-run', 'validate and print the object after defaulting, without a server')
    .option('-o, --output <format>', 'json or yaml')
    .option('--runtimes <dir...>', 'extra folders of ServingRuntimes for --dry-run')
    .action(async (o: AdminTarget & { filename: string; dryRun?: boolean; output?: string; runtimes?: string[] }) =>
      (await commands()).applyCommand(io, { ...o, file: o.filename }),
    );

  adminOptions(program.command('get'))
    .description('show InferenceServices')
    .argument('<resource>', 'isvc')
    .argument('[name]', 'one InferenceService')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'every namespace')
    .option('-o, --output <format>', 'json, yaml or wide (default: a table)')
    .option('--chunk-size <n>', 'objects asked for per list request; the CLI follows continue tokens until the last page', '500')
    .action(async (resource: string, name: string | undefined, o: AdminTarget & { namespace?: string; allNamespaces?: boolean; output?: string; chunkSize?: string }) =>
      (await commands()).getCommand(io, resource, name, o),
    );

  adminOptions(program.command('delete'))
    .description('delete an InferenceService and its revisions')
    .argument('<resource>', 'isvc')
    .argument('<name>', 'InferenceService name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (resource: string, name: string, o: AdminTarget & { namespace?: string }) => (await commands()).deleteCommand(io, resource, name, o));

  adminOptions(program.command('traffic'))
    .description('change how traffic splits between revisions (edits the stored spec; see docs/traffic.md)')
    .argument('<name>', 'InferenceService name')
    .option('--to-revisions <splits>', 'explicit split, e.g. iris-predictor-00001=90,iris-predictor-00002=10 (LATEST = latest ready)')
    .option('--to-latest', 'send 100 % to the latest ready revision')
    .option('--canary <percent>', "KServe canary: the latest revision gets this percent, the rolled-out one the rest", int('--canary'))
    .option('--tag <tag=revision>', 'name a revision with a tag (reachable at <tag>-<name>.<ns>.<domain>, x-sluice-tag, /serving/<ns>/<name>/tags/<tag>/)')
    .option('--remove-tag <tag>', 'remove a tag')
    .option('--component <component>', 'which component: predictor (default), transformer or explainer')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (name: string, o: TrafficFlags & AdminTarget & { namespace?: string; component?: string }) => {
      const t = await trafficCommands();
      await t.sendTrafficCommand(io, name, t.commandFromFlags(o), o);
    });

  adminOptions(program.command('promote'))
    .description('promote the latest revision to 100 % (KServe: remove canaryTrafficPercent; ends a progressive rollout)')
    .argument('<name>', 'InferenceService name')
    .option('--component <component>', 'which component: predictor (default), transformer or explainer')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (name: string, o: AdminTarget & { namespace?: string; component?: string }) => (await trafficCommands()).sendTrafficCommand(io, name, { op: 'promote' }, o));

  adminOptions(program.command('rollback'))
    .description('send everything back to the last rolled-out revision (KServe: canaryTrafficPercent 0)')
    .argument('<name>', 'InferenceService name')
    .option('--component <component>', 'which component: predictor (default), transformer or explainer')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .action(async (name: string, o: AdminTarget & { namespace?: string; component?: string }) => (await trafficCommands()).sendTrafficCommand(io, name, { op: 'rollback' }, o));

  adminOptions(program.command('revisions'))
    .description("list an InferenceService's revisions: traffic, tags, replicas, age (-o yaml shows each exact spec)")
    .argument('<name>', 'InferenceService name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-o, --output <format>', 'json, yaml or wide (default: a table)')
    .action(async (name: string, o: AdminTarget & { namespace?: string; output?: string }) => (await trafficCommands()).revisionsCommand(io, name, o));

  adminOptions(program.command('top'))
    .description('a live view of every revision: traffic share, req/s, p50/p99, in-flight, held, replicas, cold starts (q quits)')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'every namespace')
    .option('-o, --output <format>', 'json: one snapshot (two samples one interval apart) instead of the live view')
    .option('--metrics-url <url>', "the server's /metrics (default $SLUICE_METRICS_URL, else the admin host on port 9090)")
    .option('--interval <seconds>', 'refresh interval', '1')
    .action(async (o: import('./top-command.js').TopOptions) => (await topCommands()).topCommand(io, o));

  const auth = program.command('auth').description('data-plane API keys and admin tokens (docs/security.md)');
  const keys = auth.command('keys').description('API keys callers send to services with sluice.dev/auth: api-key');
  adminOptions(keys.command('create'))
    .description('make an API key (printed once, on stdout)')
    .option('--redis-url <url>', 'cluster mode: write the keys to the Redis the gateways share instead of an admin API')
    .argument('<name>', 'who or what holds it (a DNS label)')
    .option('--scope <scope...>', 'where it may be used: <namespace>, <namespace>/<service>, or "*"')
    .option('-o, --output <format>', 'json or yaml (the whole record, key included)')
    .action(async (name: string, o: AdminTarget & { scope?: string[]; output?: string }) => (await authCommands()).authCreate(io, 'keys', name, o));
  adminOptions(keys.command('list'))
    .description('list API keys (never the keys themselves)')
    .option('--redis-url <url>', 'cluster mode: write the keys to the Redis the gateways share instead of an admin API')
    .option('-o, --output <format>', 'json or yaml (default: a table)')
    .action(async (o: AdminTarget & { output?: string }) => (await authCommands()).authList(io, 'keys', o));
  adminOptions(keys.command('revoke'))
    .description('revoke an API key: refused by the gateway from now on')
    .option('--redis-url <url>', 'cluster mode: write the keys to the Redis the gateways share instead of an admin API')
    .argument('<id>', 'the key id (sluice auth keys list)')
    .action(async (id: string, o: AdminTarget) => (await authCommands()).authRevoke(io, 'keys', id, o));
  const tokens = auth.command('tokens').description('admin API tokens with a role: viewer, operator or admin');
  adminOptions(tokens.command('create'))
    .description('make an admin token (printed once, on stdout)')
    .argument('<name>', 'who or what holds it (a DNS label)')
    .option('--role <role>', 'viewer (read), operator (also traffic, promote, rollback) or admin (everything)')
    .option('-o, --output <format>', 'json or yaml (the whole record, token included)')
    .action(async (name: string, o: AdminTarget & { role?: string; output?: string }) => (await authCommands()).authCreate(io, 'tokens', name, o));
  adminOptions(tokens.command('list'))
    .description('list admin tokens (never the tokens themselves)')
    .option('-o, --output <format>', 'json or yaml (default: a table)')
    .action(async (o: AdminTarget & { output?: string }) => (await authCommands()).authList(io, 'tokens', o));
  adminOptions(tokens.command('revoke'))
    .description('revoke an admin token')
    .argument('<id>', 'the token id (sluice auth tokens list)')
    .action(async (id: string, o: AdminTarget) => (await authCommands()).authRevoke(io, 'tokens', id, o));

  program
    .command('simulate')
    .description('replay a request trace through the real autoscaler with a virtual clock and a simulated backend')
    .requiredOption('-f, --filename <file>', 'InferenceService YAML whose autoscaling settings to try')
    .requiredOption('--trace <csv>', 'trace: CSV with header arrival_ms,duration_ms (see docs/simulator.md)')
    .option('--out <dir>', 'write the report (Markdown) and the SVG picture here')
    .option('--startup-seconds <s>', 'simulated time for a replica to become ready (default 10; 30 for GPU revisions)', Number)
    .option('--gpus <n>', 'GPUs in the simulated inventory (GPU revisions)', int('--gpus'))
    .option('--tick-phase-ms <ms>', 'where in the second the decisions fall (0–1999; a decision sees only whole seconds before it)', int('--tick-phase-ms'))
    .option('--compare-keep-warm', 'run both the fixed grace period and the adaptive keep-warm policy')
    .action(async (o: { filename: string; trace: string; out?: string; startupSeconds?: number; gpus?: number; tickPhaseMs?: number; compareKeepWarm?: boolean }) =>
      (await commands()).simulateCommand(io, o),
    );

  const clusterRole = (name: string, role: Role, description: string, start: (o: ClusterRoleOptions) => Promise<ClusterRole>): void => {
    addSettingOptions(program.command(name).description(description), role).action(async (_o: unknown, cmd: Command) => {
      const config = await configFromCommand(cmd, role);
      const running = await start({ config });
      const stop = (): void => {
        running.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  };
  clusterRole('controller', 'controller', 'cluster mode: turn InferenceServices into revisions and Deployments, write status (leader-elected)', async (o) => (await cluster()).startClusterController(o));
  clusterRole('autoscaler', 'autoscaler', 'cluster mode: scale revision Deployments through the scale subresource (leader-elected)', async (o) => (await cluster()).startClusterAutoscaler(o));
  clusterRole('gateway', 'gateway', 'cluster mode: the data plane, with the activator hold queue in-process', async (o) => (await cluster()).startClusterGateway(o));
  clusterRole('activator', 'gateway', 'cluster mode: same as gateway (the activator runs inside every gateway)', async (o) => (await cluster()).startClusterGateway(o));

  program
    .command('render')
    .description('print the Kubernetes objects the controller would create for the current revision')
    .requiredOption('-f, --filename <file>', 'InferenceService YAML')
    .option('-o, --output <format>', 'yaml (default) or json')
    .option('--runtimes <dir...>', 'extra folders of ServingRuntimes')
    .action(async (o: { filename: string; output?: string; runtimes?: string[] }) => (await commands()).renderCommand(io, o));

  return program;
}

buildProgram()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    process.stderr.write(`error: ${errorMessage(err)}\n`);
    process.exit(1);
  });
