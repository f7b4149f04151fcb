import type { IngressPolicy } from './ingress-policy.js';

/**
 * Route: how traffic for one InferenceService reaches its revisions. Published to the data plane as an
 * immutable snapshot and swapped atomically.
 */
import type { AuthPolicy } from './auth-policy.js';

export interface TrafficTarget {
  /** Revision key `<namespace>/<revision>`. */
  revisionKey: string;
  revisionName: string;
  percent: number;
  tag: string | null;
  latestRevision: boolean;
}

export interface Route {
  namespace: string;
  service: string;
  /**
   * The InferenceService component this route reaches (absent = predictor). A service has one route per component
   * (docs/transformer.md).
   */
  component?: 'predictor' | 'transformer' | 'explainer';
  /**
   * Whether the service's own URL (`<name>.<ns>.<domain>`, path routing by model name, `/serving/<ns>/<name>/…`)
   * reaches this route: the transformer when there is one, else the predictor. Absent = true.
   */
  entry?: boolean;
  /** The model name in `/v1/models/<name>` and `/v2/models/<name>` paths. */
  modelName: string;
  /** Hosts that reach this service, e.g. `iris.default.example.com`. */
  hosts: string[];
  targets: readonly TrafficTarget[];
  /** Optional stickiness: the request header or cookie whose value keeps a user on one revision. */
  sticky?: { header?: string; cookie?: string };
  /** Visibility, limits and CORS from the service's annotations (api/ingress-policy.ts); absent when none is set. */
  ingress?: IngressPolicy;
  /** Who may call it (`sluice.dev/auth*` annotations); absent: the gateway-wide default (api/auth-policy.ts). */
  auth?: AuthPolicy;
  /** The client's credentials reach the replica (`sluice.dev/auth-forward-credentials: "true"`). */
  forwardCredentials?: true;
}

/** A frozen set of routes with the lookup maps the gateway needs; replaced whole on every change. */
export interface RouteTable {
  readonly version: number;
  readonly routes: ReadonlyMap<string, Route>;
  /** host (lower case, without port) → route and the tag the host selects, if any. */
  readonly byHost: ReadonlyMap<string, { route: Route; tag: string | null }>;
  /** model name → route (path-based routing; the default namespace wins a name clash). */
  readonly byModel: ReadonlyMap<string, Route>;
  /** `<namespace>/<name>` → route (`/serving/<ns>/<name>/…`); also `<namespace>/<name>-<component>` per component. */
  readonly byName: ReadonlyMap<string, Route>;
  /** `<namespace>/<name>` → the service's explainer route, which `:explain` requests to the service's URL reach. */
  readonly explainers: ReadonlyMap<string, Route>;
}

export function routeKey(namespace: string, service: string): string {
  return `${namespace}/${service}`;
}
