import { availableParallelism, totalmem } from 'node:os';
import { availableCores } from './cores.js';
import { bool, bytes, int, list, num, oneOf, text, type Role, type Setting } from './setting-kinds.js';

/**
 * Local backend: replica processes at once, across every revision: 4 per core, at least 8. A replica's start-up
 * (loading a runtime and a model) is CPU-bound, and past a few per core starting and serving at once they starve
 * the gateway's own event loop (2,000 services once started 2,001 processes and the data plane answered 2
 * requests in 10 s); the floor of 8 lets a 2-core laptop run the shipped step-spike scenario (1–8 replicas).
 * Memory is bounded separately (replicaMemoryBudget).
 */
export const DEFAULT_MAX_REPLICAS_TOTAL = Math.max(8, 4 * availableParallelism());
/**
 * `sluice serve`: one data-plane worker process per core this process may use (`os.availableParallelism()`,
 * lowered to the cgroup's CPU quota in a container; at most the setting's 256).
 */
export const DEFAULT_WORKERS = Math.min(256, availableCores());
/** Local backend: half of this machine's memory, for the replicas' memory requests together. */
export const DEFAULT_REPLICA_MEMORY_BUDGET = Math.floor(totalmem() / 2);

const ALL: readonly Role[] = ['serve', 'gateway', 'controller', 'autoscaler'];
const SERVE: readonly Role[] = ['serve'];
/** Settings of the data plane: `sluice serve` and the cluster gateway (with its in-process activator). */
const DATA: readonly Role[] = ['serve', 'gateway'];
/** Settings of the scaling loop: `sluice serve` and the cluster autoscaler. */
const SCALING: readonly Role[] = ['serve', 'autoscaler'];
const KUBE: readonly Role[] = ['gateway', 'controller', 'autoscaler'];

/**
 * A Kubernetes token audience (a TokenReview's `spec.audiences` item), for `kubernetesAudiences` and the
 * `sluice.dev/auth-kubernetes-audiences` annotation alike: printable ASCII without spaces or commas, bounded.
 */
export const KUBERNETES_AUDIENCE = /^[\x21-\x2b\x2d-\x7e]+$/;
export const MAX_KUBERNETES_AUDIENCES = 16;
export const MAX_KUBERNETES_AUDIENCE_LENGTH = 512;

const port = int(0, 65535);
const positive = int(1);

/** Builds a row; the default's type is the setting's type. */
function row<T>(type: Omit<Setting<T>, 'default' | 'roles' | 'description'>, def: T, roles: readonly Role[], description: string, extra: Partial<Setting<T>> = {}): Setting<T> {
  return { ...type, default: def, roles, description, ...extra };
}

/**
 * Every setting of `sluice serve` and the cluster roles, in one table: its type and allowed range, its default,
 * its flag, the commands that read it and what it does. This is the only place a default is written; the
 * environment variable (`SLUICE_` + UPPER_SNAKE of the key) and the config-file key (the key itself) follow from
 * the name. docs/configuration.md's table is generated from it (`npm run gen:config-docs`).
 */
export const SETTINGS = {
  configDir: row(text(), '', SERVE, 'folder of InferenceService / ServingRuntime YAML files to serve, watched for changes (specs, not settings); empty: none, the admin API only', { flag: '-c, --config <dir>', defaultText: '(none)' }),
  watch: row(bool(), true, SERVE, 'apply changes to `configDir` as they happen; `--no-watch` (false): read it once at start', { flag: '--no-watch' }),
  dataHost: row(text(), '0.0.0.0', DATA, 'address of the gateway (data plane)', { flag: '--data-host <host>' }),
  dataPort: row(port, 8080, DATA, 'port of the gateway; 0 picks a free port', { flag: '--data-port <port>' }),
  adminHost: row(text(), '127.0.0.1', ALL, 'address of the admin API (cluster roles: of `/healthz` and `/readyz`). Loopback by default: applying a spec runs processes as this user. Any other address needs an explicit `adminToken`, else `sluice serve` refuses to start (docs/security.md)', { flag: '--admin-host <host>' }),
  adminPort: row(port, 8081, ALL, 'port of the admin API (cluster roles: of `/healthz` and `/readyz`)', { flag: '--admin-port <port>' }),
  adminToken: row(
    text(/^$|^[A-Za-z0-9._~+/=-]{16,512}$/, '16 to 512 characters of A-Z a-z 0-9 . _ ~ + / = - (or empty to generate one)'),
    '',
    SERVE,
    'bearer token every admin API request but `/healthz` and `/readyz` must send. Empty: made at the first start into `<stateDir>/admin-token` (0600) and reused after restarts; the local CLI reads it from there (and from `SLUICE_ADMIN_TOKEN`). Never logged or echoed in errors (docs/security.md)',
    { flag: '--admin-token <token>', defaultText: '(generated)', secret: true },
  ),
  adminAllowedHosts: row(
    text(/^$|^[A-Za-z0-9.-]+(,[A-Za-z0-9.-]+)*$/, 'host names separated by commas, without ports, e.g. sluice.internal,admin.example.com'),
    '',
    SERVE,
    'host names the admin API answers to besides loopback names and the address a connection came to, e.g. the DNS name clients use for an off-loopback admin API',
    { flag: '--admin-allowed-hosts <names>', defaultText: '(none)' },
  ),
  adminMaxBodyBytes: row(positive, 1024 * 1024, SERVE, 'largest admin request body; a larger one gets 413 naming this setting, before `100 Continue` when the client waits for it'),
  maxObjectBytes: row(
    positive,
    256 * 1024,
    SERVE,
    'largest stored object (an InferenceService or runtime document, serialized as JSON); a larger one gets 422 naming this setting and its largest field (docs/admin-api.md, "Object size")',
  ),
  metricsHost: row(text(), '0.0.0.0', ALL, 'address of `/metrics`', { flag: '--metrics-host <host>' }),
  metricsPort: row(port, 9090, ALL, 'port of `/metrics`', { flag: '--metrics-port <port>' }),
  domain: row(
    text(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'a DNS domain such as example.com'),
    'example.com',
    ['serve', 'gateway', 'controller'],
    'hosts are `<name>.<namespace>.<domain>`; tags use `<tag>-<name>.<namespace>.<domain>`',
    { flag: '--domain <domain>' },
  ),
  maxHeldPerRevision: row(positive, 10_000, DATA, 'requests held for one revision while it has no spare replica; more get 503 naming this bound'),
  maxHeldTotal: row(positive, 50_000, DATA, 'requests held across all revisions'),
  maxHeldBytesPerRevision: row(positive, 256 * 1024 * 1024, DATA, 'declared body bytes (content-length) held for one revision; full of other requests\' bodies → 503 + `Retry-After`; one body alone larger → 413 naming the bound (a retry could never succeed)'),
  maxHeldBytesTotal: row(positive, 1024 * 1024 * 1024, DATA, 'declared body bytes held in total (same two answers)'),
  retryAfterSeconds: row(int(0), 1, DATA, '`Retry-After` sent with a hold bound\'s 503'),
  activatorProbeIntervalMs: row(int(10), 100, DATA, 'how often the activator probes a replica that is out of rotation (new, or failed)'),
  activatorHealthIntervalMs: row(int(0), 500, DATA, 'how often it probes replicas in rotation (3 failures in a row take one out); 0 = off'),
  replicaProbeIntervalMs: row(int(1), 50, SERVE, 'local backend: how often it probes a starting replica\'s readiness path while no request waits for its revision'),
  replicaProbeFastIntervalMs: row(
    int(1),
    10,
    SERVE,
    'local backend: the probe period while requests are held for the revision (backing off to 1 % of the start-up so far, at most `replicaProbeIntervalMs`), and the least gap before the probe that a line of the replica\'s output asks for (docs/activator.md)',
  ),
  maxReplicasTotal: row(
    positive,
    DEFAULT_MAX_REPLICAS_TOTAL,
    SERVE,
    'local backend: replica processes at once across every revision (starting, ready and stopping ones); replicas asked for beyond it stay pending (docs/autoscaling.md, "The replica budget"). A replica\'s start-up is CPU-bound and more than a few per core starve the gateway\'s event loop; the floor lets a small laptop run 8',
    { flag: '--max-replicas-total <n>', defaultText: '4 × cores, at least 8' },
  ),
  replicaMemoryBudget: row(
    bytes(),
    DEFAULT_REPLICA_MEMORY_BUDGET,
    SERVE,
    'local backend: what the running replicas\' `resources.requests.memory` may add up to; bytes or a Kubernetes quantity (`8Gi`, `512M`)',
    { flag: '--replica-memory-budget <bytes>', defaultText: "half of the machine's memory" },
  ),
  replicaMemoryDefault: row(
    bytes(),
    256 * 2 ** 20,
    SERVE,
    'local backend: what a replica counts against `replicaMemoryBudget` when its runtime requests no memory (its memory limit counts when only a limit is set, as Kubernetes defaults a request to the limit)',
    { defaultText: '256Mi' },
  ),
  python: row(text(/^.+$/, 'a command or path'), 'python3', SERVE, 'the Python launch recipes run as `{{python}}`', { flag: '--python <path>' }),
  gpus: row(
    text(/^$|^[a-z0-9.-]+\/[a-z0-9.-]+=\d+(,[a-z0-9.-]+\/[a-z0-9.-]+=\d+)*$/, 'like nvidia.com/gpu=2[,amd.com/gpu=1]'),
    '',
    SERVE,
    'GPU inventory of this machine for the local backend, e.g. `nvidia.com/gpu=2` (comma-separated); empty: none',
    { flag: '--gpus <inventory>', defaultText: '(none)' },
  ),
  maxServices: row(positive, 20_000, SERVE, 'InferenceServices accepted; more are refused'),
  workers: row(
    int(1, 256),
    DEFAULT_WORKERS,
    SERVE,
    'gateway worker processes of `sluice serve`; `1`: one process does everything. With N > 1 the first process runs the control plane (controller, local backend, autoscaler, admin API, state, `/metrics` summed over the workers) and N workers share the data port, each taking only its share of every replica\'s containerConcurrency, API keys and rate-limit buckets kept by the first (docs/architecture.md, "Worker processes"); a worker that dies is started again',
    { flag: '--workers <n>', defaultText: 'the cores available (`os.availableParallelism()`, or the container\'s CPU quota if lower)' },
  ),
  connectionsPerReplica: row(positive, 256, DATA, 'keep-alive connections per replica in the forwarder'),
  shutdownGraceSeconds: row(
    num({ min: 0 }),
    30,
    DATA,
    'time in-flight requests get to finish on SIGTERM. From the signal on, every response says `Connection: close` and idle keep-alive connections are closed; a connection half-way through sending a request gets its answer (one that sends nothing is closed by `headerTimeoutSeconds`); when the grace ends, held requests get 503 naming this setting, forwarded ones are cut, and both are logged and counted in `sluice_gateway_shutdown_cut_requests_total{stage="held"|"forwarded"}`',
  ),
  loggerMaxPayloadBytes: row(bytes(), 1024 * 1024, DATA, 'request/response logging (`logger` on a component): payload bytes kept per event; a larger body is cut there and its event says `truncated: true` and `payloadsize` (docs/observability.md)', { defaultText: '1Mi' }),
  loggerQueueEvents: row(positive, 10_000, DATA, 'log events queued or being delivered, across sinks; when full, new events are dropped and counted in `sluice_logger_events_total{outcome="dropped"}` (requests never wait)'),
  loggerQueueBytes: row(bytes(), 64 * 1024 * 1024, DATA, 'bytes of the log events queued or being delivered (same drop rule)', { defaultText: '64Mi' }),
  loggerTimeoutSeconds: row(num({ above: 0 }), 5, DATA, 'time one delivery attempt of a log event may take (connect, send, answer)'),
  loggerAttempts: row(int(1, 10), 3, DATA, 'delivery attempts per log event; network errors, 408, 429 and 5xx are tried again with exponential backoff'),
  loggerBackoffMs: row(int(1), 200, DATA, 'backoff before the second attempt, doubled for each one after, ±50 % jitter'),
  loggerConnectionsPerSink: row(positive, 8, DATA, 'keep-alive connections (deliveries at once) per HTTP log sink'),
  loggerFileMaxBytes: row(bytes(), 100 * 1024 * 1024, DATA, 'a `file:///` log sink is renamed to `<file>.1` (replacing the older one) when it would grow past this', { defaultText: '100Mi' }),
  loggerShutdownSeconds: row(num({ min: 0 }), 5, DATA, 'on shutdown, after the requests drained, time queued log events get to be delivered; what is left is dropped and counted'),
  headerTimeoutSeconds: row(
    num({ above: 0 }),
    10,
    DATA,
    'a client must send a request\'s line and headers within this from its first byte; otherwise 408 naming this setting and the connection closes (`sluice_gateway_client_timeouts_total{kind="headers"}`)',
  ),
  bodyTimeoutSeconds: row(
    num({ min: 0 }),
    30,
    DATA,
    'longest silence of a client while the gateway reads its request body; then 408 naming this setting (or the response is cut if it had begun) and the connection closes (`{kind="body"}`). Only time spent reading counts: a request held by the activator, its body waiting unread in the socket, is bounded by the request timeout instead, and a pause because the replica is slow to take the body is not the client\'s. 0 = none',
  ),
  batchMaxBodyBytes: row(
    bytes(),
    4 * 1024 * 1024,
    DATA,
    'largest request body (content-length) the batcher reads to merge with others, for revisions with `spec.predictor.batcher`; a larger one is forwarded alone, streamed (`sluice_batcher_alone_total{reason="too_large"}`)',
  ),
  batchSplitOnError: row(
    bool(),
    false,
    DATA,
    'when the runtime fails a merged request (an error status other than 408/429/502/503/504), split the batch in halves and retry each, down to single requests, so one bad request fails alone and the others succeed (`sluice_batcher_split_retries_total`); off: every caller of the batch gets the runtime\'s error',
  ),
  maxConnections: row(
    positive,
    10_000,
    DATA,
    'client connections open at once on the data port; more are closed at accept, before a byte is read (`sluice_gateway_connections_refused_total{reason="total"}`, and a warning naming this setting at most every 10 s). Keep it under the process\'s file-descriptor limit minus the replicas\' pools',
  ),
  maxConnectionsPerClient: row(
    int(0),
    1_000,
    DATA,
    'the same, per client address (`{reason="per_client"}`); 0 = no cap. Behind a load balancer every connection comes from its few addresses: raise it or set 0 there',
  ),
  // Ingress and egress (docs/security.md, "Ingress and egress"); per-service rules are `sluice.dev/*` annotations.
  internalHost: row(text(), '127.0.0.1', DATA, 'address of the internal data listener: it serves every service, including cluster-local ones (`networking.kserve.io/visibility: cluster-local`, `sluice.dev/ingress: internal`), which answer 404 on the external one', { flag: '--internal-host <host>' }),
  internalPort: row(int(-1, 65535), -1, DATA, 'port of the internal data listener; -1: none (cluster-local services are then served nowhere); 0: a free port', { flag: '--internal-port <port>' }),
  trustedProxyHops: row(int(0, 10), 0, DATA, 'proxies in front of the gateway whose `X-Forwarded-For` entries are believed, counted from the right; the client address (per-client limits, `sluice.dev/allow-cidrs`) is the entry after them. 0: the connection\'s peer; `X-Forwarded-For` is ignored'),
  maxRequestBytes: row(bytes(), 32 * 1024 * 1024, DATA, 'largest request body when a service sets no `sluice.dev/max-request-bytes`: a larger declared `Content-Length` gets 413 naming it before any replica is woken; a chunked body is counted as it streams (Cloud Run\'s HTTP/1 limit)'),
  maxHeaderBytes: row(int(1024, 1024 * 1024), 16 * 1024, DATA, 'largest request head (request line and headers; Node\'s `maxHeaderSize`); larger gets 431 naming this setting'),
  http1Server: row(
    oneOf(['sluice', 'node']),
    'sluice',
    DATA,
    'who handles the cleartext data port\'s HTTP/1.1 connections: `sluice`, Sluice\'s own connection handler over Node\'s HTTP parser (llhttp: the same request parsing and limits as node:http, with less work per request: docs/architecture.md), or `node`, node:http\'s server. HTTPS is always node:https. A Node whose parser binding Sluice does not know falls back to `node` with a warning',
  ),
  maxHeaderCount: row(int(1, 10_000), 100, DATA, 'most header fields in one request; more get 431 naming this setting (Node alone would drop fields past 2,000 silently)'),
  maxRequestsPerClient: row(int(0), 0, DATA, 'requests in flight at once from one client (address, or API key id when authenticated); more get 429 naming this setting; 0 = no limit'),
  clientRateLimit: row(num({ min: 0 }), 0, DATA, 'requests per second from one client across every service (token bucket); over it 429 with `Retry-After`; 0 = no limit. Per service: `sluice.dev/rate-limit`, `sluice.dev/client-rate-limit`'),
  clientRateLimitBurst: row(int(0), 0, DATA, 'burst of `clientRateLimit` (bucket size); 0: the rate rounded up'),
  rateLimitBuckets: row(positive, 100_000, DATA, 'clients whose token buckets one gateway keeps in memory (least recently used dropped first; a dropped client starts again with full buckets). Cluster mode keeps buckets in Redis and uses these only while Redis fails (`sluice_gateway_rate_limit_fallbacks_total`)'),
  tlsCertFile: row(text(), '', DATA, 'PEM certificate (chain) of the data listeners: with `tlsKeyFile`, they serve HTTPS, and the pair is reloaded when the files change', { flag: '--tls-cert-file <file>', defaultText: '(none)' }),
  tlsKeyFile: row(text(), '', DATA, 'PEM private key for `tlsCertFile`', { flag: '--tls-key-file <file>', defaultText: '(none)' }),
  adminTlsCertFile: row(text(), '', SERVE, 'PEM certificate of the admin API: with `adminTlsKeyFile` it serves HTTPS, reloaded when the files change', { defaultText: '(none)' }),
  adminTlsKeyFile: row(text(), '', SERVE, 'PEM private key for `adminTlsCertFile`', { defaultText: '(none)' }),
  egressAllow: row(list(), [] as string[], ALL, 'URLs Sluice itself may call (storage URIs, logger sinks, JWKS): prefixes such as `https://models.example.com/` or `s3://bucket/`, or `*.example.com` for a host and its subdomains; empty: any. A URL outside it is refused with an error naming its field', { defaultText: '(any)' }),
  grpcPort: row(int(-1, 65535), -1, DATA, 'a port that takes only gRPC (HTTP/2 cleartext) besides the data port, which takes gRPC and HTTP/1.1 on one port; -1 = none, 0 picks a free port (docs/grpc.md)', { flag: '--grpc-port <port>' }),
  grpcMaxMessageBytes: row(bytes(), 4 * 1024 * 1024, DATA, 'largest gRPC request message the gateway forwards (gRPC\'s own default); a larger one ends its call with RESOURCE_EXHAUSTED naming this setting (docs/grpc.md)'),
  grpcMaxConcurrentStreams: row(int(1, 1_000_000), 256, DATA, 'gRPC calls open at once on one client connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); clients queue the rest'),
  grpcSessionsPerReplica: row(int(1, 64), 4, DATA, 'HTTP/2 connections the gateway opens to one replica\'s gRPC port at most; a new one opens only when every open one carries 100 calls'),
  tickSeconds: row(num({ above: 0 }), 2, SCALING, 'time between autoscaler decisions (a poke decides at once)'),
  // Cluster-wide autoscaling defaults (Knative's config-autoscaler). A revision's fields and annotations override
  // those marked so; autoscaler/settings.ts reads the rest of its defaults (Sluice's policies) from its own table.
  concurrencyTarget: row(num({ above: 0 }), 100, SCALING, 'per-replica concurrency target when a revision sets neither `scaleTarget` nor `containerConcurrency` (Knative: `container-concurrency-target-default`; annotation `target`)'),
  rpsTarget: row(num({ above: 0 }), 200, SCALING, 'per-replica requests-per-second target for `scaleMetric: rps` (Knative: `requests-per-second-target-default`; annotation `target`)'),
  targetUtilizationPercent: row(num({ min: 1, max: 100 }), 70, SCALING, 'percent of the target at which a replica counts as full (annotation `target-utilization-percentage`)'),
  stableWindowSeconds: row(num({ min: 6, max: 3600 }), 60, SCALING, 'the stable window demand is averaged over (annotation `window`)'),
  panicWindowPercent: row(num({ min: 1, max: 100 }), 10, SCALING, 'the panic window, as a percent of the stable window, at least 1 s (annotation `panic-window-percentage`)'),
  panicThresholdPercent: row(num({ min: 110, max: 1000 }), 200, SCALING, 'panic when panic-window demand reaches this percent of ready capacity (annotation `panic-threshold-percentage`)'),
  maxScaleUpRate: row(num({ above: 1 }), 1000, SCALING, 'most a revision may grow per decision, as a factor of its ready replicas (Knative: `max-scale-up-rate`; not per revision)'),
  maxScaleDownRate: row(num({ above: 1 }), 2, SCALING, 'most a revision may shrink per decision, as a divisor of its ready replicas (Knative: `max-scale-down-rate`; not per revision)'),
  scaleToZeroGraceSeconds: row(num({ min: 0 }), 30, SCALING, 'how long an idle revision keeps its last replica before going to zero (Knative: `scale-to-zero-grace-period`; not per revision)'),
  scaleToZeroRetentionSeconds: row(num({ min: 0 }), 0, SCALING, 'least time the last replica stays after the decider first recommends zero; 0: only the grace applies (annotation `scale-to-zero-pod-retention-period`)'),
  gpuScaleToZeroRetentionSeconds: row(num({ min: 0 }), 600, SCALING, 'the same for revisions whose replicas request GPUs: a GPU model is slow to load, so it is kept warm longer (annotation `scale-to-zero-pod-retention-period`)'),
  scaleDownDelaySeconds: row(num({ min: 0, max: 3600 }), 0, SCALING, 'time demand must stay lower before a revision scales down (annotation `scale-down-delay`)'),
  initialScale: row(int(0), 1, SCALING, 'replicas a revision starts with when created; 0 allowed (annotation `initial-scale`)'),
  targetBurstCapacity: row(
    num({ min: -1 }),
    211,
    SCALING,
    'extra concurrency kept spare before the gateway stops routing through the activator; -1: always through it (annotation `target-burst-capacity`)',
  ),
  maxReplicasCap: row(positive, 100, SCALING, 'replicas a revision may scale to when its `maxReplicas` is 0 (no bound of its own)'),
  revisionHistoryLimit: row(int(0), 5, SERVE, 'idle revisions kept per service (no route, not latest/previous rolled out); older ones are deleted (docs/traffic.md)'),
  rolloutTickSeconds: row(num({ above: 0 }), 1, SERVE, 'time between evaluations of rollout policies (progressive delivery)'),
  logLevel: row(oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info', ALL, 'pino log level', { flag: '--log-level <level>' }),
  logFormat: row(
    oneOf(['auto', 'json', 'pretty']),
    'auto',
    ALL,
    '`auto`: human-readable lines (`17:08:49.704 INFO  [controller] revision created  service=default/iris …`) when stdout is a terminal, JSON lines (pino) otherwise; `json` or `pretty` to choose. `NO_COLOR` turns the level colours off',
    { flag: '--log-format <format>' },
  ),
  // Tracing (docs/observability.md): off while no endpoint is set here or in OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT.
  tracingEndpoint: row(
    text(/^$|^https?:\/\/[^\s]+$/, 'an http:// or https:// URL, or empty'),
    '',
    DATA,
    'OTLP/HTTP (protobuf) URL spans are sent to; a URL without a path gets `/v1/traces`. Empty: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, then `OTEL_EXPORTER_OTLP_ENDPOINT`; none of them set: tracing is off and costs nothing (Knative: `tracing-endpoint`)',
    { flag: '--tracing-endpoint <url>', defaultText: '(off)' },
  ),
  tracingHeaders: row(
    text(/^$|^[^=,\s]+=[^,]*(,[^=,\s]+=[^,]*)*$/, 'name=value pairs separated by commas'),
    '',
    DATA,
    'headers sent with every export, e.g. `authorization=Bearer abc`. Empty: `OTEL_EXPORTER_OTLP_TRACES_HEADERS`, then `OTEL_EXPORTER_OTLP_HEADERS`',
    { defaultText: '(none)', secret: true },
  ),
  tracingSampler: row(
    text(/^$|^(always_on|always_off|traceidratio|parentbased_always_on|parentbased_always_off|parentbased_traceidratio)$/, 'always_on | always_off | traceidratio | parentbased_always_on | parentbased_always_off | parentbased_traceidratio, or empty'),
    '',
    DATA,
    'which requests are traced. `parentbased_*` follow a sampled or unsampled incoming `traceparent` and apply the rest to requests without one. Empty: `OTEL_TRACES_SAMPLER`, then `parentbased_traceidratio`',
    { defaultText: 'parentbased_traceidratio' },
  ),
  tracingSamplerRatio: row(
    text(/^$|^(0(\.\d+)?|1(\.0*)?|\.\d+)$/, 'a ratio from 0 to 1, or empty'),
    '',
    DATA,
    'share of traces started for the `*traceidratio` samplers. Empty: `OTEL_TRACES_SAMPLER_ARG`, then 0.05 (KServe\'s default; Knative: `tracing-sampling-rate`)',
    { defaultText: '0.05' },
  ),
  tracingServiceName: row(text(), '', DATA, 'the `service.name` of Sluice\'s spans. Empty: `OTEL_SERVICE_NAME`, then `sluice`', { defaultText: 'sluice' }),
  tracingExportTimeoutSeconds: row(num({ above: 0, max: 60 }), 10, DATA, 'longest an export of a batch of spans may take before it is given up (its spans counted in `sluice_trace_spans_dropped_total{reason="export_failed"}`)'),
  tracingMaxQueueSize: row(
    int(1, 1_000_000),
    2048,
    DATA,
    'finished spans waiting for export; when the collector is down or slow and the queue is full, new spans are dropped and counted in `sluice_trace_spans_dropped_total{reason="queue_full"}`, never waited for',
  ),
  stateDir: row(
    text(/^.+$/, 'a directory'),
    '.sluice',
    SERVE,
    'where what must survive a restart is kept: services, revisions, traffic and rollout state, and the admin token; created 0700, relative to the working directory. The CLI reads `SLUICE_STATE_DIR` too, to find the admin token. See docs/state.md',
    { flag: '--state-dir <dir>' },
  ),
  deletedServicesRemembered: row(int(0), 10_000, SERVE, 'deleted services whose revision counter is remembered, so a re-created one never reuses a revision name (docs/state.md)'),
  kubeconfig: row(text(), '', KUBE, 'kubeconfig file; empty: `$KUBECONFIG`, then the in-cluster service account', { flag: '--kubeconfig <file>', defaultText: '(none)' }),
  group: row(oneOf(['serving.sluice.dev', 'serving.kserve.io']), 'serving.sluice.dev', KUBE, 'API group of the InferenceService CRDs', { flag: '--group <group>' }),
  redisUrl: row(text(/^rediss?:\/\/.+$/, 'a redis:// or rediss:// URL'), 'redis://127.0.0.1:6379', ['gateway', 'autoscaler', 'controller'], 'Redis shared by the gateways, the autoscaler and the controller (which reads the fleet\'s rollout outcomes from it)', { flag: '--redis-url <url>' }),
  // Data-plane auth (docs/security.md): the default of services without a `sluice.dev/auth` annotation.
  dataAuth: row(oneOf(['none', 'api-key', 'jwt', 'kubernetes']), 'none', DATA, 'who may call a service without a `sluice.dev/auth` annotation: `none` (anyone who reaches the data port), `api-key` (a key made with `sluice auth keys create`), `jwt` (a bearer JWT from `jwtIssuer`, keys at `jwtJwksUrl`), `kubernetes` (cluster mode only: a Kubernetes token the API server accepts, whose user may `get` the InferenceService; refused at start in embedded mode)', { flag: '--data-auth <mode>' }),
  jwtIssuer: row(text(), '', DATA, 'with `dataAuth: jwt`: the `iss` tokens must carry (services with their own `sluice.dev/auth: jwt` name theirs)', { defaultText: '(none)' }),
  jwtJwksUrl: row(text(/^$|^https?:\/\/.+$/, 'an http(s) URL'), '', DATA, 'with `dataAuth: jwt`: where the issuer publishes its signing keys (JWKS)', { defaultText: '(none)' }),
  jwtAudiences: row(list(), [] as string[], DATA, 'with `dataAuth: jwt`: accepted `aud` values (any one); empty: each service\'s own URL, http and https (as Cloud Run)', { defaultText: "(the service's URL)" }),
  kubernetesAudiences: row(
    list({ pattern: KUBERNETES_AUDIENCE, maxItems: MAX_KUBERNETES_AUDIENCES, maxLength: MAX_KUBERNETES_AUDIENCE_LENGTH, range: `up to ${MAX_KUBERNETES_AUDIENCES} audiences separated by commas, each printable ASCII without spaces (at most ${MAX_KUBERNETES_AUDIENCE_LENGTH} characters)` }),
    [] as string[],
    DATA,
    'Kubernetes token auth (`dataAuth: kubernetes`, or `sluice.dev/auth: kubernetes`): the audiences the TokenReview asks for (`spec.audiences`; a token meant for any one passes) for services without `sluice.dev/auth-kubernetes-audiences`, whose value replaces this one; empty: none asked, the API server checks its own audience',
    { defaultText: '(none)' },
  ),
  jwtClockSkewSeconds: row(int(0, 600), 60, DATA, 'accepted difference between this clock and the issuer\'s when checking `exp`, `nbf` and `iat` (Envoy\'s default; jose\'s own is 0)'),
  jwksRefreshSeconds: row(int(10, 86_400), 300, DATA, 'time between background refreshes of each JWKS; a token with an unknown key id refetches at most once per 30 s'),
  jwksMaxStaleSeconds: row(int(60), 86_400, DATA, 'how long keys are still used after the last successful JWKS fetch while the issuer cannot be reached (stale-if-error)'),
  jwtCacheSize: row(int(0, 1_000_000), 10_000, DATA, 'verified tokens remembered (by hash, until they expire or for 5 minutes); 0: verify every request'),
  apiKeyPollSeconds: row(num({ min: 0.1, max: 60 }), 2, ['gateway'], 'cluster gateways: how often the API keys in Redis are checked for changes; a revoked key stops working on every gateway within this time plus a Redis round trip'),
  gatewayLeaseSeconds: row(
    num({ min: 0.5, max: 300 }),
    10,
    ['gateway'],
    'cluster gateways: each registers in Redis with a lease of this length, renewed every third of it; a gateway that dies (no heartbeat) drops out of the others\' lists, and its share of every replica\'s `containerConcurrency` returns to them, within this time plus a third. A clean stop leaves at once',
  ),
  autoscalerUrl: row(
    text(/^$|^https?:\/\/.+$/, 'an http(s) URL'),
    '',
    ['gateway'],
    'cluster gateways: the autoscaler\'s admin address (its Service), used to wake a revision at zero when the poke cannot go through Redis (Redis down); empty: no fallback, a request held at zero then waits for Redis to return',
    { defaultText: '(none)' },
  ),
  maxApiKeys: row(int(1, 1_000_000), 10_000, DATA, 'API keys (and as many admin tokens) kept; creating one more is refused with 409'),
  runtimes: row(list(), [] as string[], ['controller'], 'extra folders of ClusterServingRuntimes and launch recipes', { flag: '--runtimes <dir...>', defaultText: '(none)' }),
} as const;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];
