/**
 * The resource types the test API server serves, and the discovery documents built from them.
 * A CustomResourceDefinition created through the API registers its resources here too.
 */
import { isObject, type KubeObject } from './types.js';

export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  /** Has a `status` subresource: the main resource ignores status writes and /status ignores the rest. */
  status: boolean;
  /** Has a `scale` subresource (autoscaling/v1 Scale) backed by spec.replicas / status.replicas. */
  scale: boolean;
  /** Registered from a CustomResourceDefinition: objects are pruned and validated against `schema`. */
  custom: boolean;
  /** The CRD version's openAPIV3Schema, when it has one. */
  schema?: unknown;
}

export function apiVersionOf(t: { group: string; version: string }): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/** `<group>/<plural>`, used as the store's resource key. */
export function resourceKey(t: { group: string; plural: string }): string {
  return `${t.group}/${t.plural}`;
}

/** `deployments.apps`, `pods`: how Kubernetes names a resource in error messages. */
export function qualifiedName(t: { group: string; plural: string }): string {
  return t.group === '' ? t.plural : `${t.plural}.${t.group}`;
}

function builtin(
  group: string,
  version: string,
  kind: string,
  plural: string,
  opts: { namespaced?: boolean; status?: boolean; scale?: boolean; shortNames?: string[] } = {},
): ResourceType {
  return {
    group,
    version,
    kind,
    plural,
    singular: kind.toLowerCase(),
    namespaced: opts.namespaced ?? true,
    shortNames: opts.shortNames ?? [],
    status: opts.status ?? false,
    scale: opts.scale ?? false,
    custom: false,
  };
}

export function builtinResources(): ResourceType[] {
  return [
    builtin('', 'v1', 'Namespace', 'namespaces', { namespaced: false, status: true, shortNames: ['ns'] }),
    builtin('', 'v1', 'Pod', 'pods', { status: true, shortNames: ['po'] }),
    builtin('', 'v1', 'Service', 'services', { status: true, shortNames: ['svc'] }),
    builtin('', 'v1', 'ConfigMap', 'configmaps', { shortNames: ['cm'] }),
    builtin('', 'v1', 'Node', 'nodes', { namespaced: false, status: true, shortNames: ['no'] }),
    builtin('apps', 'v1', 'Deployment', 'deployments', { status: true, scale: true, shortNames: ['deploy'] }),
    builtin('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices'),
    builtin('coordination.k8s.io', 'v1', 'Lease', 'leases'),
    builtin('networking.k8s.io', 'v1', 'NetworkPolicy', 'networkpolicies', { shortNames: ['netpol'] }),
    // Read-only in Kubernetes; writable here so tests can set usage (see TestApiServer.setPodMetrics).
    builtin('metrics.k8s.io', 'v1beta1', 'PodMetrics', 'pods'),
    builtin('metrics.k8s.io', 'v1beta1', 'NodeMetrics', 'nodes', { namespaced: false }),
    builtin('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', {
      namespaced: false,
      status: true,
      shortNames: ['crd', 'crds'],
    }),
  ];
}

/** Resource types from a CustomResourceDefinition object (one per served version). */
export function resourcesFromCrd(crd: KubeObject): ResourceType[] {
  const spec = crd['spec'];
  if (!isObject(spec) || !isObject(spec['names']) || !Array.isArray(spec['versions'])) return [];
  const names = spec['names'];
  const group = String(spec['group'] ?? '');
  const out: ResourceType[] = [];
  for (const v of spec['versions']) {
    if (!isObject(v) || v['served'] === false) continue;
    const sub = isObject(v['subresources']) ? v['subresources'] : {};
    out.push({
      group,
      version: String(v['name']),
      kind: String(names['kind']),
      plural: String(names['plural']),
      singular: String(names['singular'] ?? String(names['kind']).toLowerCase()),
      namespaced: spec['scope'] !== 'Cluster',
      shortNames: Array.isArray(names['shortNames']) ? names['shortNames'].map(String) : [],
      status: 'status' in sub,
      scale: false,
      custom: true,
      schema: isObject(v['schema']) ? v['schema']['openAPIV3Schema'] : undefined,
    });
  }
  return out;
}

/** The set of served resource types, looked up by group/version/plural. */
export class ResourceRegistry {
  private readonly byPath = new Map<string, ResourceType>();

  constructor(types: ResourceType[]) {
    for (const t of types) this.add(t);
  }

  add(t: ResourceType): void {
    this.byPath.set(`${t.group}/${t.version}/${t.plural}`, t);
  }

  remove(group: string, plural: string): void {
    for (const [k, t] of this.byPath) if (t.group === group && t.plural === plural) this.byPath.delete(k);
  }

  find(group: string, version: string, plural: string): ResourceType | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  findByKind(apiVersion: string, kind: string): ResourceType | undefined {
    for (const t of this.byPath.values()) if (apiVersionOf(t) === apiVersion && t.kind === kind) return t;
    return undefined;
  }

  all(): ResourceType[] {
    return [...this.byPath.values()];
  }

  /** group → versions, in registration order. */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of this.byPath.values()) {
      const vs = out.get(t.group) ?? [];
      if (!vs.includes(t.version)) vs.push(t.version);
      out.set(t.group, vs);
    }
    return out;
  }
}

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** `APIResourceList` for /api/v1 or /apis/<group>/<version>. */
export function apiResourceList(registry: ResourceRegistry, group: string, version: string): object | null {
  const types = registry.all().filter((t) => t.group === group && t.version === version);
  if (types.length === 0) return null;
  const resources: object[] = [];
  for (const t of types) {
    resources.push({
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
    });
    if (t.status) {
      resources.push({ name: `${t.plural}/status`, singularName: '', namespaced: t.namespaced, kind: t.kind, verbs: ['get', 'patch', 'update'] });
    }
    if (t.scale) {
      resources.push({
        name: `${t.plural}/scale`,
        singularName: '',
        namespaced: t.namespaced,
        group: 'autoscaling',
        version: 'v1',
        kind: 'Scale',
        verbs: ['get', 'patch', 'update'],
      });
    }
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: apiVersionOf({ group, version }), resources };
}

function apiGroup(name: string, versions: string[]): object {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

export function apiGroupList(registry: ResourceRegistry): object {
  const groups: object[] = [];
  for (const [g, vs] of registry.groups()) if (g !== '') groups.push(apiGroup(g, vs));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function apiGroupDoc(registry: ResourceRegistry, group: string): object | null {
  const vs = registry.groups().get(group);
  if (!vs || group === '') return null;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, vs) };
}
