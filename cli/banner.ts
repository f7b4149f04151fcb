/** The few lines `sluice serve` prints for a person once it serves: where everything is, and what to try. */

/** A served InferenceService, as the banner needs it. */
export interface BannerService {
  namespace: string;
  name: string;
  /** The resolved runtime (`spec.predictor.model.runtime`), if any. */
  runtime?: string;
  protocolVersion?: string;
  /** `status.url`: `http://<name>.<namespace>.<domain>:<port>`. */
  url?: string;
}

export interface BannerInfo {
  dataUrl: string;
  adminUrl: string;
  metricsUrl: string;
  stateDir: string;
  /** How this process's logs look, and where they go. */
  logs: 'pretty' | 'json';
  /** How the user runs the CLI from here (`npm run --silent sluice --`, `sluice`, `node …/main.js`). */
  cli: string;
  /** The admin URL the CLI uses without `--server`. */
  defaultAdminUrl: string;
  /** The state directory (absolute) where the CLI looks for the admin token without `--state-dir`. */
  defaultStateDir: string;
  services: readonly BannerService[];
  /** Listeners anyone who can reach this machine may use without a credential (see `exposures`). */
  exposed?: readonly string[];
  /** Data-plane worker processes (`--workers`); 1: this process serves the data port itself. */
  workers?: number;
}

/**
 * What this server leaves open beyond the machine, said once at start: the data plane on a non-loopback address
 * with no gateway-wide auth (services without `sluice.dev/auth` answer anyone), and `/metrics` off loopback.
 */
export function exposures(o: { dataHost: string; dataAuth: string; metricsHost: string }, isLoopback: (host: string) => boolean): string[] {
  const out: string[] = [];
  if (!isLoopback(o.dataHost) && o.dataAuth === 'none')
    out.push(`the data plane on ${o.dataHost} answers anyone who can reach it: services without sluice.dev/auth need no credential (dataAuth=none); --data-host 127.0.0.1 keeps it on this machine`);
  if (!isLoopback(o.metricsHost))
    out.push(`/metrics on ${o.metricsHost} is open (service and revision names, traffic); --metrics-host 127.0.0.1 keeps it on this machine`);
  return out;
}

/** The demo runtime serves the iris classifier: four measurements of a flower. */
const IRIS_V1 = `'{"instances": [[6.8, 2.8, 4.8, 1.4]]}'`;
const IRIS_V2 = `'{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [6.8, 2.8, 4.8, 1.4]}]}'`;
const LISTED = 3;

/**
 * A request to try against a service that works when pasted: a prediction for a service on the demo runtime
 * (its input is known), the model's metadata for any other runtime. Services outside `default` are addressed by
 * host, since paths name the model only.
 */
export function tryRequest(s: BannerService, dataUrl: string): string {
  const v2 = s.protocolVersion === 'v2' || s.protocolVersion === 'grpc-v2';
  const host = s.namespace === 'default' || !s.url ? '' : ` -H 'Host: ${new URL(s.url).hostname}'`;
  const base = `curl -s${host} ${dataUrl}`;
  if (s.runtime === 'sluice-demo') return v2 ? `${base}/v2/models/${s.name}/infer -d ${IRIS_V2}` : `${base}/v1/models/${s.name}:predict -d ${IRIS_V1}`;
  return v2 ? `${base}/v2/models/${s.name}` : `${base}/v1/models/${s.name}`;
}

export function serveBanner(b: BannerInfo): string {
  // What the CLI needs to find this server and its token when they are not where it looks by default.
  const server = `${b.adminUrl === b.defaultAdminUrl ? '' : ` --server ${b.adminUrl}`}${b.stateDir === b.defaultStateDir ? '' : ` --state-dir ${b.stateDir}`}`;
  const services = [...b.services].sort((x, y) => `${x.namespace}/${x.name}`.localeCompare(`${y.namespace}/${y.name}`));
  const listed = services.slice(0, LISTED).map((s) => (s.namespace === 'default' ? s.name : `${s.namespace}/${s.name}`));
  const more = services.length > LISTED ? ` and ${services.length - LISTED} more` : '';
  const lines = [
    '',
    'Sluice is serving. Ctrl-C stops it (in-flight requests finish, replicas stop).',
    '',
    `  data plane  ${b.dataUrl}   (/v1/models/<name>, /v2/models/<name>, /serving/<namespace>/<name>/…)`,
    `  workers     ${(b.workers ?? 1) > 1 ? `${b.workers} data-plane processes (--workers; --workers 1 for one process)` : '1 (this process; --workers N for more)'}`,
    `  admin API   ${b.adminUrl}   (the sluice CLI talks to it)`,
    `  metrics     ${b.metricsUrl}/metrics`,
    `  state       ${b.stateDir}`,
    `  logs        ${b.logs === 'pretty' ? 'this terminal (stdout), one line per event; --log-format json for JSON lines' : 'stdout, JSON lines'}`,
    `  services    ${listed.length > 0 ? `${listed.join(', ')}${more}` : `none yet: ${b.cli} apply -f FILE${server}`}`,
    '',
  ];
  if (b.exposed && b.exposed.length > 0) {
    lines.push('Open:');
    for (const e of b.exposed) lines.push(`  ${e}`);
    lines.push('');
  }
  const first = services[0];
  lines.push('Try:');
  if (first) {
    lines.push(`  ${tryRequest(first, b.dataUrl)}`);
    if (first.runtime === 'sluice-demo') lines.push('  (the first request starts a replica from zero; the response header x-sluice-cold-start says how long it took)');
  }
  lines.push(`  ${b.cli} get isvc${server}`, '');
  return lines.map((l) => `${l}\n`).join('');
}

/** How to run the CLI the way this process was started: through npm in the package, the `sluice` bin, or node. */
export function cliInvocation(env: Record<string, string | undefined>, script: string, cwd: string): string {
  if (env.npm_package_name === 'sluice' && env.npm_lifecycle_event !== undefined) return 'npm run --silent sluice --';
  if (script.endsWith('/sluice') || script === 'sluice') return 'sluice';
  const rel = script.startsWith(`${cwd}/`) ? script.slice(cwd.length + 1) : script;
  return `node ${rel}`;
}
