import type { InferenceService } from '../api/inferenceservice.js';
import { defaultInferenceService } from '../api/defaulting.js';
import { revisionKey, type Revision } from '../api/revision.js';
import type { Route } from '../api/route.js';
import type { RevisionScaleStatus } from '../autoscaler/autoscaler.js';
import type { Clock } from '../core/clock.js';
import { HttpError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { SnapshotHolder, RevisionView } from '../gateway/data-plane.js';
import { buildRouteTable } from '../gateway/route-table.js';
import type { Backend, EndpointEvent } from './backends/backend.js';
import { buildRevision, servingHash } from './revision-builder.js';
import type { RuntimeCatalogue } from './runtime-catalogue.js';
import { assignTraffic, type TrafficEntry } from './traffic.js';

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

interface ServiceRecord {
  object: InferenceService;
  uid: string;
  generation: number;
  resourceVersion: number;
  createdAt: string;
  /** Where the spec came from: a file path, or `api`. */
  source: string;
  /** Predictor revision names, oldest first. */
  revisions: string[];
  hash: string;
  latestRolledout: string | null;
  previousRolledout: string | null;
  traffic: TrafficEntry[];
  holdReason: string | null;
  conditions: Map<string, Condition>;
}

/** What the controller needs of the autoscaler (the Autoscaler class; a status-only view in cluster mode). */
export interface ScaleManager {
  register(rev: Revision): Promise<void>;
  unregister(revisionKey: string): void;
  status(revisionKey: string): (Pick<RevisionScaleStatus, 'desiredReplicas' | 'readyReplicas' | 'startingReplicas' | 'lastDecision'> & Partial<RevisionScaleStatus>) | null;
}

/** What the controller needs of the data plane's dispatch (the Activator; nothing in the cluster controller). */
export interface Dispatch {
  addRevision(key: string, labels: { namespace: string; service: string; revision: string }): void;
  removeRevision(key: string): void;
  onEndpointEvent(ev: EndpointEvent): void;
}

/** Rollout state read back from a stored object, so a restarted controller carries on where it stopped. */
export interface RestoredState {
  /** Revision names, oldest first. */
  revisions: Revision[];
  /** Revisions known to have been ready. */
  proven: string[];
  latestRolledout: string | null;
  previousRolledout: string | null;
  uid?: string;
  createdAt?: string;
  generation?: number;
}

export interface ControllerDeps {
  clock: Clock;
  logger: Logger;
  backend: Backend;
  autoscaler: ScaleManager;
  activator: Dispatch;
  /** Called after an InferenceService's spec or status changed (cluster mode writes status back). */
  onChange?: (namespace: string, name: string) => void;
  snapshot: SnapshotHolder;
  catalogue: () => RuntimeCatalogue;
  /** Domain of service hosts: `<name>.<namespace>.<domain>`. */
  domain: string;
  /** Port clients reach the gateway on (shown in status URLs when not 80). */
  urlPort?: () => number | undefined;
  /** Most InferenceServices accepted; more are refused with a clear error. */
  maxServices?: number;
  /** Called after the backend drops a replica (the forwarder closes its pool). */
  onEndpointRemoved?: (url: string) => void;
}

/**
 * Turns InferenceService specs into immutable revisions and workloads, assigns traffic, publishes the data
 * plane's snapshot and reports status. The only writer of revisions and routes.
 */
export class Controller {
  private readonly d: ControllerDeps;
  private readonly services = new Map<string, ServiceRecord>();
  private readonly revisions = new Map<string, Revision>();
  /** Revisions that have had a ready replica at least once. */
  private readonly proven = new Set<string>();
  private resourceVersion = 0;
  private routesVersion = 0;
  private unsubscribe: (() => void) | null = null;

  constructor(deps: ControllerDeps) {
    this.d = deps;
  }

  start(): void {
    this.unsubscribe = this.d.backend.subscribe((ev) => this.onEndpoint(ev));
    this.publish();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Creates or replaces an InferenceService. A serving change makes a new revision; anything else does not. */
  async apply(isvc: InferenceService, source: string): Promise<{ object: InferenceService; created: boolean; newRevision: string | null }> {
    const defaulted = defaultInferenceService(isvc, this.d.catalogue());
    const ns = defaulted.metadata.namespace ?? 'default';
    const name = defaulted.metadata.name;
    const key = `${ns}/${name}`;
    const now = new Date(this.d.clock.now()).toISOString();
    let rec = this.services.get(key);
    const created = !rec;
    if (!rec) {
      const max = this.d.maxServices ?? 20_000;
      if (this.services.size >= max)
        throw new HttpError(507, `cannot accept ${key}: the limit of ${max} InferenceServices (maxServices) is reached`);
      rec = {
        object: defaulted,
        uid: cryptoRandomUid(),
        generation: 0,
        resourceVersion: 0,
        createdAt: now,
        source,
        revisions: [],
        hash: '',
        latestRolledout: null,
        previousRolledout: null,
        traffic: [],
        holdReason: null,
        conditions: new Map(),
      };
    }
    const hash = servingHash(defaulted, 'predictor');
    let newRevision: string | null = null;
    let revision: Revision | null = null;
    if (hash !== rec.hash) {
      const generation = rec.revisions.length === 0 ? 1 : generationOf(rec.revisions[rec.revisions.length - 1]!) + 1;
      // Build first: a spec that cannot become a revision changes nothing.
      revision = buildRevision(defaulted, 'predictor', this.d.catalogue(), { generation, createdAt: now });
      newRevision = revision.name;
    }
    const specChanged = created || JSON.stringify(rec.object.spec) !== JSON.stringify(defaulted.spec);
    rec.object = defaulted;
    rec.source = source;
    if (specChanged) rec.generation++;
    rec.resourceVersion = ++this.resourceVersion;
    this.services.set(key, rec);
    if (revision) {
      const rkey = revisionKey(revision);
      this.revisions.set(rkey, revision);
      rec.revisions.push(revision.name);
      rec.hash = hash;
      this.d.activator.addRevision(rkey, { namespace: ns, service: name, revision: revision.name });
      await this.d.backend.apply(revision);
      await this.d.autoscaler.register(revision);
      this.d.logger.info({ service: key, revision: revision.name }, 'revision created');
    }
    this.reconcileTraffic(rec);
    this.publish();
    this.d.onChange?.(ns, name);
    return { object: this.withStatus(rec), created, newRevision };
  }

  /**
   * Takes over an InferenceService that already has revisions (a restarted controller): its revisions and
   * rollout bookkeeping come from what was stored, so applying the same spec again creates nothing.
   */
  restore(isvc: InferenceService, state: RestoredState, source: string): void {
    const defaulted = defaultInferenceService(isvc, this.d.catalogue());
    const ns = defaulted.metadata.namespace ?? 'default';
    const key = `${ns}/${defaulted.metadata.name}`;
    if (this.services.has(key) || state.revisions.length === 0) return;
    const revisions = [...state.revisions].sort((a, b) => a.generation - b.generation);
    for (const rev of revisions) {
      const rkey = revisionKey(rev);
      this.revisions.set(rkey, rev);
      this.d.activator.addRevision(rkey, { namespace: ns, service: rev.service, revision: rev.name });
    }
    for (const p of state.proven) this.proven.add(`${ns}/${p}`);
    const latest = revisions[revisions.length - 1]!;
    const rec: ServiceRecord = {
      object: defaulted,
      uid: state.uid ?? cryptoRandomUid(),
      generation: state.generation ?? 1,
      resourceVersion: ++this.resourceVersion,
      createdAt: state.createdAt ?? new Date(this.d.clock.now()).toISOString(),
      source,
      revisions: revisions.map((r) => r.name),
      hash: latest.hash,
      latestRolledout: state.latestRolledout,
      previousRolledout: state.previousRolledout,
      traffic: [],
      holdReason: null,
      conditions: new Map(),
    };
    this.services.set(key, rec);
    this.reconcileTraffic(rec);
    this.publish();
  }

  async delete(namespace: string, name: string): Promise<boolean> {
    const key = `${namespace}/${name}`;
    const rec = this.services.get(key);
    if (!rec) return false;
    this.services.delete(key);
    this.resourceVersion++;
    this.publish();
    for (const revName of rec.revisions) {
      const rkey = `${namespace}/${revName}`;
      this.d.autoscaler.unregister(rkey);
      this.d.activator.removeRevision(rkey);
      this.revisions.delete(rkey);
      this.proven.delete(rkey);
      await this.d.backend.remove(rkey);
    }
    this.d.logger.info({ service: key }, 'InferenceService deleted');
    return true;
  }

  get(namespace: string, name: string): InferenceService | null {
    const rec = this.services.get(`${namespace}/${name}`);
    return rec ? this.withStatus(rec) : null;
  }

  list(namespace?: string): InferenceService[] {
    const out: InferenceService[] = [];
    for (const rec of this.services.values())
      if (namespace === undefined || rec.object.metadata.namespace === namespace) out.push(this.withStatus(rec));
    return out;
  }

  /** Services whose spec came from `source` (the config loader uses this to delete removed files' services). */
  keysFrom(sourcePrefix: string): string[] {
    const out: string[] = [];
    for (const [k, rec] of this.services) if (rec.source.startsWith(sourcePrefix)) out.push(k);
    return out;
  }

  revision(key: string): Revision | undefined {
    return this.revisions.get(key);
  }

  get resourceVersionNow(): number {
    return this.resourceVersion;
  }

  private onEndpoint(ev: EndpointEvent): void {
    this.d.activator.onEndpointEvent(ev);
    if (ev.type === 'removed') this.d.onEndpointRemoved?.(ev.endpoint.url);
    if (ev.type !== 'ready') return;
    const rkey = ev.endpoint.revisionKey;
    if (this.proven.has(rkey)) return;
    this.proven.add(rkey);
    const rev = this.revisions.get(rkey);
    if (!rev) return;
    const rec = this.services.get(`${rev.namespace}/${rev.service}`);
    if (!rec) return;
    this.reconcileTraffic(rec);
    rec.resourceVersion = ++this.resourceVersion;
    this.publish();
    this.d.onChange?.(rev.namespace, rev.service);
  }

  /** A revision is ready when a replica has answered its probe, or when it is meant to start at zero. */
  private isReady(rkey: string): boolean {
    if (this.proven.has(rkey)) return true;
    const rev = this.revisions.get(rkey);
    return rev !== undefined && rev.autoscaling.initialScale === 0 && rev.autoscaling.minReplicas === 0;
  }

  private reconcileTraffic(rec: ServiceRecord): void {
    const ns = rec.object.metadata.namespace ?? 'default';
    const latest = rec.revisions[rec.revisions.length - 1]!;
    const annotations = rec.object.metadata.annotations ?? {};
    const result = assignTraffic({
      latestCreated: latest,
      latestCreatedReady: this.isReady(`${ns}/${latest}`),
      latestRolledout: rec.latestRolledout,
      previousRolledout: rec.previousRolledout,
      canaryTrafficPercent: rec.object.spec.predictor.canaryTrafficPercent ?? null,
      tagRouting: annotations['serving.kserve.io/enable-tag-routing'] === 'true',
    });
    rec.traffic = result.traffic;
    rec.latestRolledout = result.latestRolledout;
    rec.previousRolledout = result.previousRolledout;
    rec.holdReason = result.holdReason;
  }

  /** Builds the data plane snapshot from scratch and swaps it in atomically. */
  private publish(): void {
    const routes: Route[] = [];
    const views = new Map<string, RevisionView>();
    for (const rec of this.services.values()) {
      const ns = rec.object.metadata.namespace ?? 'default';
      const name = rec.object.metadata.name;
      routes.push({
        namespace: ns,
        service: name,
        modelName: name,
        hosts: [],
        targets: Object.freeze(
          rec.traffic.map((t) => ({
            revisionKey: `${ns}/${t.revisionName}`,
            revisionName: t.revisionName,
            percent: t.percent,
            tag: t.tag,
            latestRevision: t.latestRevision,
          })),
        ),
      });
      for (const revName of rec.revisions) {
        const rev = this.revisions.get(`${ns}/${revName}`);
        if (!rev) continue;
        views.set(revisionKey(rev), {
          key: revisionKey(rev),
          namespace: ns,
          service: name,
          name: rev.name,
          timeoutMs: rev.timeoutSeconds * 1000,
          modelName: rev.modelName,
          runtimeModelName: rev.runtimeModelName,
        });
      }
    }
    this.d.snapshot.publish({ routes: buildRouteTable(routes, this.d.domain, ++this.routesVersion), revisions: views });
  }

  private url(host: string): string {
    const port = this.d.urlPort?.();
    return `http://${host}${port && port !== 80 ? `:${port}` : ''}`;
  }

  private withStatus(rec: ServiceRecord): InferenceService & { status: unknown } {
    const ns = rec.object.metadata.namespace ?? 'default';
    const name = rec.object.metadata.name;
    const host = `${name}.${ns}.${this.d.domain}`;
    const latestCreated = rec.revisions[rec.revisions.length - 1] ?? null;
    let latestReady: string | null = null;
    for (let i = rec.revisions.length - 1; i >= 0; i--) {
      if (this.isReady(`${ns}/${rec.revisions[i]}`)) {
        latestReady = rec.revisions[i]!;
        break;
      }
    }
    const now = new Date(this.d.clock.now()).toISOString();
    const predictorReady = latestReady !== null && rec.traffic.some((t) => t.percent > 0);
    this.setCondition(rec, 'IngressReady', true, undefined, undefined, now);
    this.setCondition(
      rec,
      'PredictorReady',
      predictorReady,
      predictorReady ? undefined : 'RevisionMissing',
      rec.holdReason ?? (predictorReady ? undefined : `revision ${latestCreated} has no ready replica yet`),
      now,
    );
    this.setCondition(rec, 'Ready', predictorReady, predictorReady ? undefined : 'PredictorNotReady', undefined, now);
    const revisions = rec.revisions.map((revName) => {
      const s = this.d.autoscaler.status(`${ns}/${revName}`);
      return {
        name: revName,
        desiredReplicas: s?.desiredReplicas ?? 0,
        readyReplicas: s?.readyReplicas ?? 0,
        startingReplicas: s?.startingReplicas ?? 0,
        lastScaleDecision: s?.lastDecision ?? null,
        ...(s?.events ? { scaleEvents: s.events } : {}),
        ...(s?.conditions && s.conditions.length > 0 ? { conditions: s.conditions } : {}),
        ...(s?.startupSeconds ? { startupSeconds: s.startupSeconds } : {}),
        ...(s?.keepWarm ? { keepWarm: s.keepWarm } : {}),
      };
    });
    // A revision held back by GPU capacity says so at the top level too.
    const gpu = revisions.flatMap((r) => ('conditions' in r ? (r.conditions ?? []) : [])).find((c) => c.status === 'False');
    if (gpu) this.setCondition(rec, 'GpuCapacity', false, gpu.reason, gpu.message, now);
    else if (rec.conditions.has('GpuCapacity')) this.setCondition(rec, 'GpuCapacity', true, 'Sufficient', undefined, now);
    return {
      ...structuredClone(rec.object),
      metadata: {
        ...structuredClone(rec.object.metadata),
        namespace: ns,
        uid: rec.uid,
        generation: rec.generation,
        resourceVersion: String(rec.resourceVersion),
        creationTimestamp: rec.createdAt,
      },
      status: {
        url: this.url(host),
        address: { url: this.url(host) },
        observedGeneration: rec.generation,
        conditions: [...rec.conditions.values()],
        components: {
          predictor: {
            url: this.url(`${name}-predictor.${ns}.${this.d.domain}`),
            latestCreatedRevision: latestCreated,
            latestReadyRevision: latestReady,
            latestRolledoutRevision: rec.latestRolledout,
            ...(rec.previousRolledout ? { previousRolledoutRevision: rec.previousRolledout } : {}),
            traffic: rec.traffic.map((t) => ({
              revisionName: t.revisionName,
              percent: t.percent,
              latestRevision: t.latestRevision,
              ...(t.tag ? { tag: t.tag, url: this.url(`${t.tag}-${host}`) } : {}),
            })),
          },
        },
        revisions,
      },
    } as InferenceService & { status: unknown };
  }

  private setCondition(
    rec: ServiceRecord,
    type: string,
    ok: boolean,
    reason: string | undefined,
    message: string | undefined,
    now: string,
  ): void {
    const status = ok ? 'True' : 'False';
    const prev = rec.conditions.get(type);
    const c: Condition = {
      type,
      status,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    };
    rec.conditions.set(type, c);
  }
}

function generationOf(revName: string): number {
  const m = /-(\d+)$/.exec(revName);
  return m ? Number(m[1]) : 0;
}

function cryptoRandomUid(): string {
  return globalThis.crypto.randomUUID();
}

