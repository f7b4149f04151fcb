/**
 * Runtimes applied through the admin API: ClusterServingRuntimes, namespaced ServingRuntimes and
 * LocalLaunchRecipes, kept as documents (with uid, resourceVersion, creationTimestamp) and offered to the
 * controller as a catalogue layer. Precedence (docs/admin-api.md): built-in < config folder < admin API — the
 * last one a user applied by name wins; deleting it through the API reveals the folder's or built-in one again.
 * Revisions resolve their runtime when they are made, so a change here affects new revisions only.
 */
import { HttpError, ValidationError } from '../core/errors.js';
import type { Clock } from '../core/clock.js';
import { parseLocalLaunchRecipe, parseServingRuntime, RUNTIME_API_VERSION, SLUICE_API_VERSION } from '../api/servingruntime.js';
import { checkObjectSize } from './object-size.js';
import { emptyCatalogue, type RuntimeCatalogue } from './runtime-catalogue.js';

export const RUNTIME_RESOURCES = {
  clusterservingruntimes: { kind: 'ClusterServingRuntime', apiVersion: RUNTIME_API_VERSION, namespaced: false },
  servingruntimes: { kind: 'ServingRuntime', apiVersion: RUNTIME_API_VERSION, namespaced: true },
  locallaunchrecipes: { kind: 'LocalLaunchRecipe', apiVersion: SLUICE_API_VERSION, namespaced: false },
} as const;
export type RuntimeResource = keyof typeof RUNTIME_RESOURCES;

/** A stored document as the API returns it. */
export interface RuntimeDocument {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
    uid: string;
    resourceVersion: string;
    generation: number;
    creationTimestamp: string;
  };
  spec: unknown;
}

/** Where API-applied runtimes are made durable (deploy/state/runtime-files.ts in embedded mode). A change is visible once saved. */
export interface RuntimeStore {
  save(resource: RuntimeResource, key: string, doc: RuntimeDocument): Promise<void>;
  remove(resource: RuntimeResource, key: string): Promise<void>;
}

export interface RuntimeRegistryDeps {
  clock: Clock;
  /** Most documents kept per resource; more are refused (507). */
  maxPerResource?: number;
  /** Largest serialized document (the setting maxObjectBytes). */
  maxObjectBytes?: number;
  store?: RuntimeStore;
}

/** `<ns>/<name>` for namespaced resources, `<name>` for cluster-scoped ones. */
export function runtimeKey(resource: RuntimeResource, namespace: string | null, name: string): string {
  return RUNTIME_RESOURCES[resource].namespaced ? `${namespace ?? 'default'}/${name}` : name;
}

export class RuntimeRegistry {
  private readonly d: RuntimeRegistryDeps;
  private readonly docs = new Map<RuntimeResource, Map<string, RuntimeDocument>>(
    (Object.keys(RUNTIME_RESOURCES) as RuntimeResource[]).map((r) => [r, new Map()]),
  );
  private version = 0;
  private cached: { version: number; catalogue: RuntimeCatalogue } | null = null;
  private tail: Promise<void> = Promise.resolve();

  constructor(deps: RuntimeRegistryDeps) {
    this.d = deps;
  }

  get resourceVersionNow(): number {
    return this.version;
  }

  /**
   * Validates and stores (creates or replaces) a document at `resource`/`namespace`/`name`. Field errors are a
   * ValidationError (422); a body whose kind, name or namespace disagrees with the URL is 400.
   */
  async put(resource: RuntimeResource, namespace: string | null, name: string, raw: unknown): Promise<{ object: RuntimeDocument; created: boolean }> {
    const spec = RUNTIME_RESOURCES[resource];
    const body = stripServerFields(raw, spec.namespaced ? (namespace ?? 'default') : null);
    const kind = body !== null && typeof body === 'object' ? (body as { kind?: unknown }).kind : undefined;
    if (kind !== spec.kind)
      throw new ValidationError([{ path: 'kind', message: `must be ${spec.kind} at this URL (${resource}), got ${JSON.stringify(kind ?? null)}` }], `invalid ${spec.kind}`);
    const parsed = parseDocument(resource, body);
    if (parsed.metadata.name !== name)
      throw new HttpError(400, `metadata.name "${parsed.metadata.name}" does not match the name in the URL "${name}"`);
    if (spec.namespaced && parsed.metadata.namespace !== namespace)
      throw new HttpError(400, `metadata.namespace "${String(parsed.metadata.namespace)}" does not match the namespace in the URL "${String(namespace)}"`);
    checkObjectSize(parsed, this.d.maxObjectBytes ?? Number.POSITIVE_INFINITY, spec.kind, name);
    const key = runtimeKey(resource, namespace, name);
    // Changes are made one at a time, each saved before it is visible, so the store's order is the API's order.
    return this.serially(async () => {
      const docs = this.docs.get(resource)!;
      const prev = docs.get(key);
      const max = this.d.maxPerResource ?? 1000;
      if (!prev && docs.size >= max) throw new HttpError(507, `cannot accept ${spec.kind} ${key}: the limit of ${max} ${resource} is reached`);
      const same = prev !== undefined && JSON.stringify(prev.spec) === JSON.stringify(parsed.spec);
      const doc: RuntimeDocument = {
        apiVersion: spec.apiVersion,
        kind: spec.kind,
        metadata: {
          ...parsed.metadata,
          uid: prev?.metadata.uid ?? globalThis.crypto.randomUUID(),
          resourceVersion: String(this.version + 1),
          generation: (prev?.metadata.generation ?? 0) + (same ? 0 : 1),
          creationTimestamp: prev?.metadata.creationTimestamp ?? new Date(this.d.clock.now()).toISOString(),
        },
        spec: parsed.spec,
      };
      await this.d.store?.save(resource, key, doc);
      this.version++;
      docs.set(key, doc);
      this.cached = null;
      return { object: structuredClone(doc), created: prev === undefined };
    });
  }

  /**
   * Takes back a document saved before a restart (validated again; a bad one throws, naming the problem). Its
   * uid, resourceVersion and timestamps are kept; later versions continue above the highest seen.
   */
  restore(resource: RuntimeResource, doc: RuntimeDocument): void {
    const spec = RUNTIME_RESOURCES[resource];
    const parsed = parseDocument(resource, bare(doc));
    const key = runtimeKey(resource, parsed.metadata.namespace ?? null, parsed.metadata.name);
    this.docs.get(resource)!.set(key, { ...doc, apiVersion: spec.apiVersion, kind: spec.kind, metadata: { ...doc.metadata, ...parsed.metadata }, spec: parsed.spec });
    this.version = Math.max(this.version, Number(doc.metadata.resourceVersion) || 0);
    this.cached = null;
  }

  get(resource: RuntimeResource, key: string): RuntimeDocument | null {
    const doc = this.docs.get(resource)!.get(key);
    return doc ? structuredClone(doc) : null;
  }

  /** Keys of a resource (in one namespace, for namespaced ones). */
  keys(resource: RuntimeResource, namespace?: string): string[] {
    const out: string[] = [];
    for (const [k, doc] of this.docs.get(resource)!) if (namespace === undefined || doc.metadata.namespace === namespace) out.push(k);
    return out;
  }

  async delete(resource: RuntimeResource, key: string): Promise<boolean> {
    return this.serially(async () => {
      const docs = this.docs.get(resource)!;
      if (!docs.has(key)) return false;
      await this.d.store?.remove(resource, key);
      docs.delete(key);
      this.version++;
      this.cached = null;
      return true;
    });
  }

  /** Runs changes one after another (a chain, so waiting changes hold no more than their own closures). */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const run = this.tail.then(change, change);
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The API-applied runtimes as a catalogue layer (rebuilt only after a change). */
  catalogue(): RuntimeCatalogue {
    if (this.cached?.version === this.version) return this.cached.catalogue;
    const out = emptyCatalogue();
    for (const doc of this.docs.get('clusterservingruntimes')!.values()) out.clusterRuntimes.push(parseServingRuntime(bare(doc)));
    for (const doc of this.docs.get('servingruntimes')!.values()) out.runtimes.push(parseServingRuntime(bare(doc)));
    for (const doc of this.docs.get('locallaunchrecipes')!.values()) {
      const r = parseLocalLaunchRecipe(bare(doc));
      out.localRecipes.set(r.runtime, r.recipe);
    }
    this.cached = { version: this.version, catalogue: out };
    return out;
  }
}

/** The document as parsed by the schema (defaults filled in), without server-set fields. */
function parseDocument(resource: RuntimeResource, body: unknown): { metadata: { name: string; namespace?: string; labels: Record<string, string>; annotations: Record<string, string> }; spec: unknown } {
  if (resource === 'locallaunchrecipes') {
    // The recipe's parser keeps only what launching needs; the document keeps its metadata as sent.
    const b = body as { metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> };
    const { recipe } = parseLocalLaunchRecipe(body);
    return { metadata: { name: b.metadata.name, labels: b.metadata.labels ?? {}, annotations: b.metadata.annotations ?? {} }, spec: recipe };
  }
  const rt = parseServingRuntime(body);
  return { metadata: { ...rt.metadata }, spec: rt.spec };
}

/** A stored document without the server-set metadata, as the parsers take it. */
function bare(doc: RuntimeDocument): unknown {
  const { uid: _u, resourceVersion: _r, generation: _g, creationTimestamp: _c, ...metadata } = doc.metadata;
  return { apiVersion: doc.apiVersion, kind: doc.kind, metadata, spec: doc.spec };
}

/** Server-set fields are accepted on input and ignored (as the Kubernetes API does); a namespaced body gets the URL's namespace when it has none. */
function stripServerFields(raw: unknown, namespace: string | null): unknown {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const copy = { ...(raw as Record<string, unknown>) };
  delete copy.status;
  const md = copy.metadata;
  if (md !== null && typeof md === 'object' && !Array.isArray(md)) {
    const m = { ...(md as Record<string, unknown>) };
    for (const k of ['resourceVersion', 'uid', 'generation', 'creationTimestamp', 'managedFields']) delete m[k];
    if (namespace !== null && m.namespace === undefined) m.namespace = namespace;
    copy.metadata = m;
  }
  return copy;
}
