/**
 * TokenReview (authentication.k8s.io/v1) and SubjectAccessReview (authorization.k8s.io/v1), driven by the test:
 * `tokens` says which bearer tokens the "API server" recognises and as whom, `rules` is an RBAC-like allow list
 * (no rule: denied, as Kubernetes RBAC, which only grants). Both are plain mutable fields, read on every review.
 */
import { errors } from './status.js';
import { isObject } from './types.js';

export interface TestUser {
  username: string;
  uid?: string;
  groups?: string[];
  /** The audiences the token is meant for (a projected token's `audience`); default: the API server's own. */
  audiences?: string[];
}

/** The audience of the API server itself (a plain service account token's). */
export const API_SERVER_AUDIENCE = 'https://kubernetes.default.svc.cluster.local';

/** One grant: a subject (user name and/or group) may do `verbs` on `resources` of `apiGroups`, where listed. */
export interface TestAccessRule {
  /** Shown in an allowed review's reason, like a RoleBinding's name. */
  name: string;
  user?: string;
  group?: string;
  verbs: string[];
  apiGroups: string[];
  resources: string[];
  /** Absent: every namespace (a ClusterRoleBinding). */
  namespaces?: string[];
  /** Absent: every name. */
  names?: string[];
}

export class TestReviews {
  readonly tokens = new Map<string, TestUser>();
  rules: TestAccessRule[] = [];
  /** Reviews answered (tests count them). */
  tokenReviews = 0;
  accessReviews = 0;
  /** The `spec.audiences` of each TokenReview (absent: none asked). */
  readonly askedAudiences: (string[] | undefined)[] = [];
  /** False: an old API server that ignores `spec.audiences` and answers no `status.audiences`. */
  audienceAware = true;

  tokenReview(body: unknown): unknown {
    const spec = isObject(body) && isObject(body.spec) ? body.spec : null;
    if (spec === null || typeof spec.token !== 'string') throw errors.badRequest('TokenReview: spec.token is required');
    this.tokenReviews++;
    const asked = Array.isArray(spec.audiences) ? (spec.audiences as unknown[]).filter((a): a is string => typeof a === 'string') : undefined;
    this.askedAudiences.push(asked);
    const user = this.tokens.get(spec.token);
    // As the API server: the token must be meant for one of the audiences asked (default: its own).
    const wanted = this.audienceAware && asked !== undefined && asked.length > 0 ? asked : [API_SERVER_AUDIENCE];
    const common = (user?.audiences ?? [API_SERVER_AUDIENCE]).filter((a) => wanted.includes(a));
    const status =
      user === undefined
        ? { authenticated: false, error: 'invalid bearer token' }
        : common.length === 0
          ? { authenticated: false, error: 'token audiences are invalid for the target audiences' }
          : {
              authenticated: true,
              user: { username: user.username, uid: user.uid ?? `uid-${user.username}`, groups: [...(user.groups ?? []), 'system:authenticated'] },
              ...(this.audienceAware ? { audiences: common } : {}),
            };
    return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { creationTimestamp: null }, spec, status };
  }

  accessReview(body: unknown): unknown {
    const spec = isObject(body) && isObject(body.spec) ? body.spec : null;
    const ra = spec !== null && isObject(spec.resourceAttributes) ? spec.resourceAttributes : null;
    if (spec === null || typeof spec.user !== 'string' || ra === null) throw errors.badRequest('SubjectAccessReview: spec.user and spec.resourceAttributes are required');
    this.accessReviews++;
    const groups = Array.isArray(spec.groups) ? (spec.groups as string[]) : [];
    const s = (v: unknown): string => (typeof v === 'string' ? v : '');
    const rule = this.rules.find(
      (r) =>
        (r.user === undefined || r.user === spec.user) &&
        (r.group === undefined || groups.includes(r.group)) &&
        (r.user !== undefined || r.group !== undefined) &&
        r.verbs.includes(s(ra.verb)) &&
        r.apiGroups.includes(s(ra.group)) &&
        r.resources.includes(s(ra.resource)) &&
        (r.namespaces === undefined || r.namespaces.includes(s(ra.namespace))) &&
        (r.names === undefined || r.names.includes(s(ra.name))),
    );
    const status = rule ? { allowed: true, reason: `RBAC: allowed by ${rule.name}` } : { allowed: false };
    return { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: { creationTimestamp: null }, spec, status };
  }
}
