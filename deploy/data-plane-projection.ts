/**
 * The data plane's projection of the control plane's state: InferenceServices (their resolved traffic, tags,
 * annotations, failed and proven revisions) and revisions → the routes and revision views the gateway and activator read. Pure, and the one
 * place routes are built: the embedded controller feeds it from its records, the cluster gateway from the
 * InferenceService objects' status and the revisions' Deployments, so both modes route the same hosts, tags and
 * stickiness that status advertises.
 */
import { authPolicyOf, forwardsCredentials } from '../api/auth-policy.js';
import { revisionKey, type Revision } from '../api/revision.js';
import type { Route } from '../api/route.js';
import { ingressPolicy } from '../api/ingress-policy.js';
import { revisionView, type RevisionView } from '../gateway/data-plane.js';
import type { TrafficEntry } from './traffic.js';

/** What the projection needs to know of one InferenceService (the same in both modes). */
export interface ServiceRouting {
  namespace: string;
  name: string;
  /** The object's annotations (stickiness: `sluice.dev/sticky-header`, `sluice.dev/sticky-cookie`). */
  annotations: Readonly<Record<string, string>>;
  /** The resolved traffic (`status.components.predictor.traffic`); empty while no revision has been ready. */
  traffic: readonly TrafficEntry[];
  /** The latest created revision's name (null before the first revision). */
  latestCreated: string | null;
  /** Tags the spec pins to named revisions (`spec.predictor.traffic[].tag` with a `revisionName`). */
  specTags: ReadonlyArray<{ revisionName: string; tag: string }>;
  /** Revisions of this service that could not become ready, by name → why. */
  failed: ReadonlyMap<string, string>;
  /** Names of this service's revisions that have been ready at least once (they can start again on demand). */
  proven: ReadonlySet<string>;
  /**
   * The transformer's and explainer's routing, when the spec has them (`status.components.<component>`); each
   * gets a route of its own. `failed` and `proven` above cover their revisions too.
   */
  components?: Partial<Record<'transformer' | 'explainer', ComponentRouting>>;
}

/** A transformer's or explainer's resolved traffic, latest created revision and pinned tags. */
export interface ComponentRouting {
  traffic: readonly TrafficEntry[];
  latestCreated: string | null;
  /** Tags `spec.<component>.traffic` pins to named revisions (none when absent). */
  specTags?: ReadonlyArray<{ revisionName: string; tag: string }>;
}

export interface DataPlaneProjection {
  routes: Route[];
  /** By revision key `<namespace>/<revision>`. */
  revisions: Map<string, RevisionView>;
}

/**
 * Routes and revision views from services and the revisions the data plane can reach. A target whose revision is
 * not among `revisions` is left out (in cluster mode the two watches arrive in any order; its share goes to the
 * others rather than being answered 503), and a service none of whose targets can take a request has no route.
 */
export function projectDataPlane(services: Iterable<ServiceRouting>, revisions: Iterable<Revision>, domain: string): DataPlaneProjection {
  const byService = new Map<string, ServiceRouting>();
  for (const s of services) byService.set(`${s.namespace}/${s.name}`, s);
  const views = new Map<string, RevisionView>();
  for (const rev of revisions) {
    const s = byService.get(`${rev.namespace}/${rev.service}`);
    const reason = s?.failed.get(rev.name);
    views.set(revisionKey(rev), revisionView(rev, reason === undefined ? null : failedMessage(rev.name, reason), s?.proven.has(rev.name) ?? false));
  }
  const routes: Route[] = [];
  for (const s of byService.values()) {
    const transformer = s.components?.transformer;
    const explainer = s.components?.explainer;
    // The service's URL reaches the transformer when there is one (KServe's rule), else the predictor.
    const predictor = componentRoute(s, 'predictor', dataPlaneTargets(s), transformer === undefined, views, domain);
    if (predictor) routes.push(predictor);
    if (transformer) {
      const r = componentRoute(s, 'transformer', dataPlaneTargets({ ...transformer, specTags: transformer.specTags ?? [] }), true, views, domain);
      if (r) routes.push(r);
    }
    if (explainer) {
      const r = componentRoute(s, 'explainer', dataPlaneTargets({ ...explainer, specTags: explainer.specTags ?? [] }), false, views, domain);
      if (r) routes.push(r);
    }
  }
  return { routes, revisions: views };
}

/** One component's route, or null when none of its targets can take a request. */
function componentRoute(
  s: ServiceRouting,
  component: 'predictor' | 'transformer' | 'explainer',
  entries: readonly TrafficEntry[],
  entry: boolean,
  views: ReadonlyMap<string, RevisionView>,
  domain: string,
): Route | null {
  const targets = entries
    .map((t) => ({
      revisionKey: `${s.namespace}/${t.revisionName}`,
      revisionName: t.revisionName,
      percent: t.percent,
      tag: t.tag,
      latestRevision: t.latestRevision,
    }))
    .filter((t) => views.has(t.revisionKey));
  if (!targets.some((t) => t.percent > 0 || t.tag !== null)) return null;
  const host = componentHost(s.namespace, s.name, component, domain);
  return {
    namespace: s.namespace,
    service: s.name,
    modelName: s.name,
    ...(component === 'predictor' ? {} : { component }),
    ...(entry ? {} : { entry: false }),
    hosts: [host],
    ...stickyOf(s.annotations),
    ...ingressOf(s.annotations),
    ...authOf(s.annotations, [`${s.name}.${s.namespace}.${domain}`, host]),
    targets: Object.freeze(targets),
  };
}

/**
 * What the gateway routes on: the resolved traffic, or — before any revision is ready — the latest created at
 * 100 % (so requests are held while it starts; Knative would refuse them) plus the spec's pinned tags.
 */
export function dataPlaneTargets(s: Pick<ServiceRouting, 'traffic' | 'latestCreated' | 'specTags'>): readonly TrafficEntry[] {
  if (s.traffic.length > 0) return s.traffic;
  if (s.latestCreated === null) return [];
  return [
    { revisionName: s.latestCreated, percent: 100, tag: null, latestRevision: true },
    ...s.specTags.map((t) => ({ revisionName: t.revisionName, percent: 0, tag: t.tag, latestRevision: false })),
  ];
}

/**
 * The predictor revisions to wake with a transformer's or explainer's revision (`rev`) when a request waits for it
 * at zero: those the predictor's route gives a share to, as revision keys, so both start at once instead of one
 * after the other (docs/transformer.md). None for a predictor revision, a failed one, or with
 * `autoscaling.sluice.dev/wake-predictor: "false"`. The same rule in both modes: the embedded controller and the
 * cluster gateway each filter out revisions that already have replicas wanted.
 */
export function predictorWakeTargets(s: ServiceRouting, rev: Pick<Revision, 'component'>): string[] {
  if (rev.component === 'predictor' || s.annotations['autoscaling.sluice.dev/wake-predictor'] === 'false') return [];
  return dataPlaneTargets(s)
    .filter((t) => t.percent > 0 && !s.failed.has(t.revisionName))
    .map((t) => `${s.namespace}/${t.revisionName}`);
}

/** The predictor's own host, `<name>-predictor.<namespace>.<domain>` (status advertises it as the predictor's URL). */
export function predictorHost(namespace: string, name: string, domain: string): string {
  return componentHost(namespace, name, 'predictor', domain);
}

/** A component's own host, `<name>-<component>.<namespace>.<domain>` (KServe's component URL). */
export function componentHost(namespace: string, name: string, component: string, domain: string): string {
  return `${name}-${component}.${namespace}.${domain}`;
}

/** Tags a spec pins to named revisions, from `spec.predictor.traffic` (entries without both are skipped). */
export function specTagsOf(traffic: unknown): Array<{ revisionName: string; tag: string }> {
  if (!Array.isArray(traffic)) return [];
  return traffic.flatMap((t: unknown) => {
    if (typeof t !== 'object' || t === null) return [];
    const { revisionName, tag } = t as { revisionName?: unknown; tag?: unknown };
    return typeof revisionName === 'string' && typeof tag === 'string' && tag !== '' && revisionName !== '' ? [{ revisionName, tag }] : [];
  });
}

/** What clients and status are told about a failed revision. */
export function failedMessage(revision: string, reason: string): string {
  return `revision ${revision} failed to become ready: ${reason}`;
}

/** Optional stickiness (Sluice annotations): one user keeps one revision while the weights allow it. */
function stickyOf(annotations: Readonly<Record<string, string>>): { sticky?: { header?: string; cookie?: string } } {
  const header = annotations['sluice.dev/sticky-header']?.toLowerCase();
  const cookie = annotations['sluice.dev/sticky-cookie'];
  if (!header && !cookie) return {};
  return { sticky: { ...(header ? { header } : {}), ...(cookie ? { cookie } : {}) } };
}

/** The service's ingress policy (visibility, limits, CORS), when its annotations set one. */
function ingressOf(annotations: Readonly<Record<string, string>>): { ingress?: Route['ingress'] } {
  const ingress = ingressPolicy(annotations);
  return ingress ? { ingress } : {};
}

/** Who may call the service (`sluice.dev/auth*`); nothing when it follows the gateway-wide default. */
function authOf(annotations: Readonly<Record<string, string>>, hosts: readonly string[]): { auth?: Route['auth']; forwardCredentials?: true } {
  const auth = authPolicyOf(annotations, hosts);
  return { ...(auth ? { auth } : {}), ...(forwardsCredentials(annotations) ? { forwardCredentials: true as const } : {}) };
}
