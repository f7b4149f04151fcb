/**
 * Fields the InferenceService schema accepts (KServe specs carry them) that nothing in Sluice acts on yet. Accepting
 * them silently would let a user believe they work, so every place a spec comes in says so: the admin API as
 * `Warning` headers, `sluice apply` on stderr, the config folder in its log, and the service's status as the
 * `InactiveFields` condition. This table is the one list: a feature that lands removes its line.
 *
 * Checked against what acts on a spec: the revision builder (deploy/revision-builder.ts), the Kubernetes
 * renderer (deploy/backends/kubernetes/render-revision.ts), the local backend and the data plane. Pod-level fields
 * the Kubernetes backend passes on (nodeSelector, tolerations, affinity, serviceAccountName, imagePullSecrets,
 * labels, annotations, securityContext) and the serving container's securityContext are active there and not
 * listed; so are its `ports` named for HTTP (`http`, `http1`) or gRPC (`h2c`, `grpc`, `grpc-…`): the Kubernetes
 * backend serves and announces them (render-revision.ts `servingPorts`); a port with another name is listed.
 * `spec.transformer` and `spec.explainer` are active (docs/transformer.md); KServe's built-in explainers
 * (`art`, `alibi`) are refused with a field error.
 */
import { LEGACY_FRAMEWORKS } from './normalize.js';

interface InactiveEntry {
  /** The field's name where it sits (a component field, or a container field). */
  field: string;
  /** What the user gets instead, in a few words. */
  reason: string;
}

/** Fields of a component (`spec.predictor.<field>`). */
const COMPONENT_FIELDS: readonly InactiveEntry[] = [
  { field: 'volumes', reason: "pod volumes are not passed to the replica's pod" },
];

/** Fields of the serving container (`spec.predictor.model.<field>`, `….containers[i].<field>`, `….sklearn.<field>`). */
const CONTAINER_FIELDS: readonly InactiveEntry[] = [
  { field: 'readinessProbe', reason: "readiness is probed on the protocol's health path (v2: /v2/health/ready, v1: /v1/models/<name>)" },
  { field: 'livenessProbe', reason: "it is not passed to the replica's container" },
  { field: 'startupProbe', reason: "it is not passed to the replica's container" },
  { field: 'workingDir', reason: "it is not passed to the replica's container" },
  { field: 'imagePullPolicy', reason: "it is not passed to the replica's container" },
  { field: 'volumeMounts', reason: "it is not passed to the replica's container" },
];

const EXTRA_CONTAINER_REASON = 'only one container runs per replica (the one named kserve-container, else the first); sidecars are not started';

export interface InactiveField {
  /** Field path as the spec wrote it, e.g. `spec.predictor.batcher`. */
  path: string;
  reason: string;
}

/**
 * The accepted-but-inactive fields a (validated) InferenceService document sets, in a stable order. Works on the
 * document as written (legacy framework keys such as `sklearn:` are named as written) and on a parsed object.
 */
export function inactiveFields(doc: unknown): InactiveField[] {
  const spec = field(doc, 'spec');
  const out: InactiveField[] = [];
  for (const component of ['predictor', 'transformer', 'explainer'] as const) {
    const c = field(spec, component);
    if (!isRecord(c)) continue;
    const at = `spec.${component}`;
    for (const e of COMPONENT_FIELDS) if (c[e.field] !== undefined) out.push({ path: `${at}.${e.field}`, reason: e.reason });
    if (component === 'predictor') {
      for (const key of ['model', ...LEGACY_FRAMEWORKS]) {
        const m = c[key];
        if (isRecord(m)) out.push(...containerFields(m, `${at}.${key}`));
      }
    }
    const containers = c['containers'];
    if (Array.isArray(containers)) {
      const served = Math.max(0, containers.findIndex((x) => field(x, 'name') === 'kserve-container'));
      containers.forEach((x, i) => {
        if (i !== served) out.push({ path: `${at}.containers[${i}]`, reason: EXTRA_CONTAINER_REASON });
        else if (isRecord(x)) out.push(...containerFields(x, `${at}.containers[${i}]`));
      });
    }
  }
  return out;
}

/** The warning text for one inactive field (the admin API's `Warning` header, the CLI's and the log's line). */
export function inactiveFieldWarning(f: InactiveField): string {
  return `${f.path} is accepted but not active yet: ${f.reason}`;
}

function containerFields(c: Record<string, unknown>, at: string): InactiveField[] {
  const out = CONTAINER_FIELDS.flatMap((e) => (c[e.field] !== undefined ? [{ path: `${at}.${e.field}`, reason: e.reason }] : []));
  const ports = c['ports'];
  if (Array.isArray(ports)) {
    ports.forEach((p, i) => {
      const name = field(p, 'name');
      if (typeof name === 'string' && SERVED_PORT_NAME.test(name)) return;
      out.push({ path: `${at}.ports[${i}]`, reason: PORT_REASON });
    });
  }
  return out;
}

/** Port names a container's `ports` entry is acted on by (api/revision.ts declaredHttpPort, declaredGrpcPort). */
const SERVED_PORT_NAME = /^(http|http1|h2c|grpc|grpc-.*)$/;
const PORT_REASON = 'only a port named http or http1 (HTTP) or h2c, grpc or grpc-… (gRPC) is served; locally the recipe picks free ports';

function field(v: unknown, key: string): unknown {
  return isRecord(v) ? v[key] : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
