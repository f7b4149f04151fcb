/**
 * The test API server's object store: one global resourceVersion counter, a bounded event history for
 * watches, optimistic concurrency, generation, finalizers and a simple garbage collector for
 * ownerReferences. Synchronous; the HTTP layer and the kubelet both call it directly.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../core/clock.js';
import { CrdSchemas } from './crd-schema.js';
import { apiVersionOf, resourceKey, resourcesFromCrd, type ResourceRegistry, type ResourceType } from './resources.js';
import { matchesFields, matchesLabels, type FieldRequirement, type Requirement } from './selectors.js';
import { errors } from './status.js';
import { clone, isObject, type KubeObject, type StoreEvent } from './types.js';

export interface StoreOptions {
  registry: ResourceRegistry;
  clock: Clock;
  /** Events kept for watches that resume from a resourceVersion; older ones answer 410 Gone. */
  historySize: number;
  /** Namespaces that exist from the start. */
  namespaces: string[];
}

export interface ListFilter {
  namespace?: string;
  labels?: Requirement[];
  fields?: FieldRequirement[];
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Background' | 'Foreground' | 'Orphan';
  preconditions?: { uid?: string; resourceVersion?: string };
}

type Listener = (event: StoreEvent) => void;

/** Top-level fields whose change bumps metadata.generation (everything except metadata and status). */
function specPart(obj: KubeObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return JSON.stringify(rest);
}

function withoutRv(obj: KubeObject): string {
  const { resourceVersion: _rv, ...meta } = obj.metadata;
  return JSON.stringify({ ...obj, metadata: meta });
}

function randomSuffix(n = 5): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

export class ObjectStore {
  private rv = 1;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private readonly history: StoreEvent[] = [];
  /** Watches from a resourceVersion below this answer 410 Gone. */
  private compactedRv = 0;
  private readonly listeners = new Set<Listener>();
  /** Set by a kubelet: pods are deleted gracefully (deletionTimestamp first) and it finalizes them. */
  gracefulPodDeletion = false;
  private nextClusterIp = 10;
  /** Structural schemas of served custom resources, by `<group>/<version>/<plural>`. */
  private readonly crdSchemas = new CrdSchemas();

  constructor(private readonly opts: StoreOptions) {
    const ns = this.type('', 'v1', 'namespaces');
    for (const name of opts.namespaces) this.create(ns, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }

  get registry(): ResourceRegistry {
    return this.opts.registry;
  }

  /** The resource type for group/version/plural; throws when not served. */
  type(group: string, version: string, plural: string): ResourceType {
    const t = this.opts.registry.find(group, version, plural);
    if (!t) throw new Error(`resource ${group}/${version}/${plural} is not served`);
    return t;
  }

  /** The resource type for an apiVersion + kind (`apps/v1`, `Deployment`); throws when not served. */
  typeOf(apiVersion: string, kind: string): ResourceType {
    const t = this.opts.registry.findByKind(apiVersion, kind);
    if (!t) throw new Error(`kind ${apiVersion} ${kind} is not served`);
    return t;
  }

  currentResourceVersion(): number {
    return this.rv;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events after `rv`, or 'gone' when the history no longer reaches back that far. */
  eventsSince(rv: number): StoreEvent[] | 'gone' {
    if (rv < this.compactedRv) return 'gone';
    return this.history.filter((e) => e.resourceVersion > rv);
  }

  /** Test hook: forget the whole history, so any watch resuming from an earlier version gets 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.compactedRv = this.rv;
  }

  private bucket(t: ResourceType): Map<string, KubeObject> {
    const k = resourceKey(t);
    let b = this.objects.get(k);
    if (!b) {
      b = new Map();
      this.objects.set(k, b);
    }
    return b;
  }

  private static key(ns: string | undefined, name: string): string {
    return `${ns ?? ''}/${name}`;
  }

  private emit(type: StoreEvent['type'], t: ResourceType, object: KubeObject, previous: KubeObject | null): void {
    const event: StoreEvent = { type, resource: resourceKey(t), object: clone(object), previous, resourceVersion: this.rv };
    this.history.push(event);
    while (this.history.length > this.opts.historySize) {
      const dropped = this.history.shift()!;
      this.compactedRv = dropped.resourceVersion;
    }
    for (const l of [...this.listeners]) l(event);
  }

  get(t: ResourceType, ns: string | undefined, name: string): KubeObject {
    const o = this.bucket(t).get(ObjectStore.key(t.namespaced ? ns : undefined, name));
    if (!o) throw errors.notFound(t, name);
    return clone(o);
  }

  tryGet(t: ResourceType, ns: string | undefined, name: string): KubeObject | undefined {
    const o = this.bucket(t).get(ObjectStore.key(t.namespaced ? ns : undefined, name));
    return o ? clone(o) : undefined;
  }

  list(t: ResourceType, filter: ListFilter = {}): { items: KubeObject[]; resourceVersion: string } {
    const items: KubeObject[] = [];
    for (const o of this.bucket(t).values()) if (this.matches(o, filter)) items.push(clone(o));
    items.sort((a, b) => (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name!.localeCompare(b.metadata.name!));
    return { items, resourceVersion: String(this.rv) };
  }

  matches(o: KubeObject, filter: ListFilter): boolean {
    if (filter.namespace !== undefined && o.metadata.namespace !== filter.namespace) return false;
    if (filter.labels && !matchesLabels(filter.labels, o.metadata.labels)) return false;
    if (filter.fields && !matchesFields(filter.fields, o)) return false;
    return true;
  }

  create(t: ResourceType, ns: string | undefined, input: KubeObject): KubeObject {
    const obj = clone(input);
    obj.apiVersion = apiVersionOf(t);
    obj.kind = t.kind;
    const meta = (obj.metadata = isObject(obj.metadata) ? obj.metadata : {});
    if (t.namespaced) {
      const target = ns ?? meta.namespace ?? 'default';
      if (meta.namespace !== undefined && meta.namespace !== target) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = target;
      const nsType = this.type('', 'v1', 'namespaces');
      if (!this.tryGet(nsType, undefined, target)) throw errors.namespaceNotFound(target);
    } else delete meta.namespace;
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${randomSuffix()}`;
    if (!meta.name) throw errors.invalid(t, '', [{ field: 'metadata.name', message: 'Required value: name or generateName is required' }]);
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(meta.name) || meta.name.length > 253) {
      throw errors.invalid(t, meta.name, [{ field: 'metadata.name', message: `Invalid value: "${meta.name}": must be a lowercase RFC 1123 subdomain` }]);
    }
    const bucket = this.bucket(t);
    const key = ObjectStore.key(meta.namespace, meta.name);
    if (bucket.has(key)) throw errors.alreadyExists(t, meta.name);
    this.validate(t, obj);
    this.applyDefaults(t, obj);
    meta.uid = randomUUID();
    meta.creationTimestamp = new Date(this.opts.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    meta.generation = 1;
    delete meta.deletionTimestamp;
    if (t.status && t.custom) delete obj['status'];
    this.admitCustom(t, obj);
    this.rv++;
    meta.resourceVersion = String(this.rv);
    bucket.set(key, obj);
    this.emit('ADDED', t, obj, null);
    if (t.kind === 'CustomResourceDefinition') this.registerCrd(obj);
    return clone(obj);
  }

  /**
   * PUT semantics. `part` 'main' ignores status (when the type has a status subresource); 'status' changes
   * only status. A stale metadata.resourceVersion is a 409 Conflict; none means "unconditional".
   */
  update(t: ResourceType, ns: string | undefined, name: string, input: KubeObject, part: 'main' | 'status' = 'main'): KubeObject {
    const bucket = this.bucket(t);
    const key = ObjectStore.key(t.namespaced ? ns : undefined, name);
    const old = bucket.get(key);
    if (!old) throw errors.notFound(t, name);
    const inMeta = isObject(input.metadata) ? input.metadata : {};
    if (inMeta.name !== undefined && inMeta.name !== name) throw errors.badRequest(`the name of the object (${String(inMeta.name)}) does not match the name on the URL (${name})`);
    if (inMeta.resourceVersion !== undefined && inMeta.resourceVersion !== '' && inMeta.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(t, name);
    }
    let next: KubeObject;
    if (part === 'status') {
      next = clone(old);
      if (input['status'] === undefined) delete next['status'];
      else next['status'] = clone(input['status']);
    } else {
      next = clone(input);
      next.metadata = clone(inMeta);
      if (t.status) {
        if (old['status'] === undefined) delete next['status'];
        else next['status'] = clone(old['status']);
      }
      this.validate(t, next);
    }
    next.apiVersion = apiVersionOf(t);
    next.kind = t.kind;
    const m = next.metadata;
    m.name = name;
    if (t.namespaced) m.namespace = old.metadata.namespace;
    else delete m.namespace;
    m.uid = old.metadata.uid;
    m.creationTimestamp = old.metadata.creationTimestamp;
    m.generation = old.metadata.generation;
    if (old.metadata.deletionTimestamp) {
      m.deletionTimestamp = old.metadata.deletionTimestamp;
      if (old.metadata.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
      const added = (m.finalizers ?? []).filter((f) => !(old.metadata.finalizers ?? []).includes(f));
      if (added.length > 0) throw errors.invalid(t, name, [{ field: 'metadata.finalizers', message: 'Forbidden: no new finalizers can be added if the object is being deleted' }]);
    } else delete m.deletionTimestamp;
    if (m.finalizers && m.finalizers.length === 0) delete m.finalizers;
    if (part === 'main' && specPart(next) !== specPart(old)) m.generation = (old.metadata.generation ?? 1) + 1;
    m.resourceVersion = old.metadata.resourceVersion;
    this.admitCustom(t, next);
    if (withoutRv(next) === withoutRv(old)) return clone(old);
    this.rv++;
    m.resourceVersion = String(this.rv);
    bucket.set(key, next);
    this.emit('MODIFIED', t, next, clone(old));
    if (m.deletionTimestamp && !m.finalizers?.length && !this.awaitsKubelet(t, next)) this.remove(t, next, 'Background');
    return clone(next);
  }

  /** Deletes, or marks for deletion when finalizers (or a graceful pod shutdown) must run first. */
  delete(t: ResourceType, ns: string | undefined, name: string, opts: DeleteOptions = {}): { object: KubeObject; removed: boolean } {
    const bucket = this.bucket(t);
    const key = ObjectStore.key(t.namespaced ? ns : undefined, name);
    const old = bucket.get(key);
    if (!old) throw errors.notFound(t, name);
    const pre = opts.preconditions ?? {};
    if (pre.uid && pre.uid !== old.metadata.uid) {
      throw errors.conflict(t, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid ?? ''}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(t, name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion ?? ''}`);
    }
    const graceful = t.kind === 'Pod' && t.group === '' && this.gracefulPodDeletion && opts.gracePeriodSeconds !== 0;
    const hasFinalizers = (old.metadata.finalizers ?? []).length > 0;
    if (hasFinalizers || graceful) {
      if (!old.metadata.deletionTimestamp || (t.kind === 'Pod' && opts.gracePeriodSeconds === 0)) {
        const next = clone(old);
        next.metadata.deletionTimestamp ??= new Date(this.opts.clock.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
        const spec = isObject(next['spec']) ? next['spec'] : {};
        const grace = opts.gracePeriodSeconds ?? (typeof spec['terminationGracePeriodSeconds'] === 'number' ? spec['terminationGracePeriodSeconds'] : graceful ? 30 : 0);
        next.metadata.deletionGracePeriodSeconds = grace;
        if (!hasFinalizers && grace === 0) return { object: this.remove(t, old, opts.propagationPolicy), removed: true };
        this.rv++;
        next.metadata.resourceVersion = String(this.rv);
        bucket.set(key, next);
        this.emit('MODIFIED', t, next, clone(old));
        return { object: clone(next), removed: false };
      }
      return { object: clone(old), removed: false };
    }
    return { object: this.remove(t, old, opts.propagationPolicy), removed: true };
  }

  private registerCrd(crd: KubeObject): void {
    for (const r of resourcesFromCrd(crd)) {
      this.opts.registry.add(r);
      this.crdSchemas.set(`${r.group}/${r.version}/${r.plural}`, r.schema);
    }
  }

  /** Custom resources are pruned and validated against their CRD's schema, as the API server does. */
  private admitCustom(t: ResourceType, obj: KubeObject): void {
    if (!t.custom) return;
    const causes = this.crdSchemas.admit(`${t.group}/${t.version}/${t.plural}`, obj);
    if (causes.length > 0) throw errors.invalid(t, obj.metadata.name ?? '', causes);
  }

  /** A pod marked for graceful deletion waits for the kubelet to finish it. */
  private awaitsKubelet(t: ResourceType, o: KubeObject): boolean {
    return t.kind === 'Pod' && t.group === '' && this.gracefulPodDeletion && (o.metadata.deletionGracePeriodSeconds ?? 0) > 0;
  }

  /** Removes an object now, emits DELETED, and collects its dependents. */
  private remove(t: ResourceType, obj: KubeObject, policy: DeleteOptions['propagationPolicy']): KubeObject {
    const bucket = this.bucket(t);
    const key = ObjectStore.key(obj.metadata.namespace, obj.metadata.name!);
    if (!bucket.delete(key)) return clone(obj);
    this.rv++;
    const gone = clone(obj);
    gone.metadata.resourceVersion = String(this.rv);
    this.emit('DELETED', t, gone, clone(obj));
    if (t.kind === 'CustomResourceDefinition') this.dropCustomResources(gone);
    if (t.kind === 'Namespace' && t.group === '') this.dropNamespace(gone.metadata.name!);
    this.collectDependents(gone.metadata.uid!, policy === 'Orphan');
    return gone;
  }

  private dropCustomResources(crd: KubeObject): void {
    for (const r of resourcesFromCrd(crd)) {
      for (const o of [...this.bucket(r).values()]) this.remove(r, o, 'Background');
      this.opts.registry.remove(r.group, r.plural);
      this.crdSchemas.delete(`${r.group}/${r.version}/${r.plural}`);
    }
  }

  private dropNamespace(ns: string): void {
    for (const t of this.opts.registry.all()) {
      if (!t.namespaced) continue;
      for (const o of [...this.bucket(t).values()]) if (o.metadata.namespace === ns) this.remove(t, o, 'Background');
    }
  }

  private liveUids(): Set<string> {
    const uids = new Set<string>();
    for (const b of this.objects.values()) for (const o of b.values()) if (o.metadata.uid) uids.add(o.metadata.uid);
    return uids;
  }

  /** Garbage collector: dependents whose every owner is gone are deleted (or orphaned on request). */
  private collectDependents(ownerUid: string, orphan: boolean): void {
    const live = this.liveUids();
    for (const t of this.opts.registry.all()) {
      for (const o of [...this.bucket(t).values()]) {
        const refs = o.metadata.ownerReferences ?? [];
        if (!refs.some((r) => r.uid === ownerUid)) continue;
        if (orphan) {
          const next = clone(o);
          next.metadata.ownerReferences = refs.filter((r) => r.uid !== ownerUid);
          if (next.metadata.ownerReferences.length === 0) delete next.metadata.ownerReferences;
          this.update(t, o.metadata.namespace, o.metadata.name!, next);
        } else if (refs.every((r) => !live.has(r.uid))) {
          if (this.bucket(t).has(ObjectStore.key(o.metadata.namespace, o.metadata.name!))) {
            this.delete(t, o.metadata.namespace, o.metadata.name!, { propagationPolicy: 'Background' });
          }
        }
      }
    }
  }

  private validate(t: ResourceType, obj: KubeObject): void {
    if (t.group === 'apps' && t.kind === 'Deployment') {
      const spec = isObject(obj['spec']) ? obj['spec'] : null;
      const name = obj.metadata.name ?? '';
      if (!spec || !isObject(spec['selector'])) throw errors.invalid(t, name, [{ field: 'spec.selector', message: 'Required value' }]);
      const tpl = isObject(spec['template']) ? spec['template'] : {};
      const tplMeta = isObject(tpl['metadata']) ? tpl['metadata'] : {};
      const labels = isObject(tplMeta['labels']) ? (tplMeta['labels'] as Record<string, string>) : {};
      const ml = isObject(spec['selector']['matchLabels']) ? spec['selector']['matchLabels'] : {};
      if (Object.entries(ml).some(([k, v]) => labels[k] !== v)) {
        throw errors.invalid(t, name, [{ field: 'spec.template.metadata.labels', message: 'Invalid value: `selector` does not match template `labels`' }]);
      }
      const podSpec = isObject(tpl['spec']) ? tpl['spec'] : {};
      if (!Array.isArray(podSpec['containers']) || podSpec['containers'].length === 0) {
        throw errors.invalid(t, name, [{ field: 'spec.template.spec.containers', message: 'Required value' }]);
      }
    }
  }

  private applyDefaults(t: ResourceType, obj: KubeObject): void {
    if (t.group === 'apps' && t.kind === 'Deployment') {
      const spec = obj['spec'] as Record<string, unknown>;
      spec['replicas'] ??= 1;
      spec['revisionHistoryLimit'] ??= 10;
      spec['progressDeadlineSeconds'] ??= 600;
      spec['strategy'] ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    }
    if (t.group === '' && t.kind === 'Service') {
      const spec = (obj['spec'] = isObject(obj['spec']) ? obj['spec'] : {});
      spec['type'] ??= 'ClusterIP';
      if (spec['clusterIP'] === undefined) {
        const n = this.nextClusterIp++;
        spec['clusterIP'] = `10.96.${Math.floor(n / 250)}.${(n % 250) + 1}`;
      }
    }
    if (t.group === '' && t.kind === 'Pod') obj['status'] ??= { phase: 'Pending' };
    if (t.group === '' && t.kind === 'Namespace') obj['status'] ??= { phase: 'Active' };
  }
}
