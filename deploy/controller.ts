import { startLimits } from '../api/annotations.js';
import { AUTH_ANNOTATION, KUBERNETES_AUTH_EMBEDDED, KUBERNETES_AUTH_MODE } from '../api/auth-policy.js';
import { inactiveFieldWarning, inactiveFields } from '../api/inactive-fields.js';
import { CHAINED_COMPONENTS, parseInferenceService, type ChainedComponent, type ComponentName, type InferenceService } from '../api/inferenceservice.js';
import { defaultInferenceService } from './defaulting.js';
import type { RolloutPolicy, TrafficTargetSpec } from '../api/traffic-spec.js';
import { revisionKey, type Revision } from '../api/revision.js';
import type { RevisionScaleStatus } from '../autoscaler/autoscaler.js';
import type { Clock } from '../core/clock.js';
import { HttpError, ValidationError, errorMessage } from '../core/errors.js';
import { checkStorageEgress } from './egress-check.js';
import type { Logger } from '../core/log.js';
import type { DataPlaneSnapshot, SnapshotHolder } from '../gateway/data-plane.js';
import type { WindowStats } from '../gateway/outcome-recorder.js';
import { buildRouteTable } from '../gateway/route-table.js';
import type { Backend, EndpointEvent } from '../api/backend.js';
import { componentHost, dataPlaneTargets, failedMessage, predictorHost, predictorWakeTargets, projectDataPlane, specTagsOf, type ComponentRouting, type ServiceRouting } from './data-plane-projection.js';
import { checkObjectSize } from './object-size.js';
import { buildRevision, servingHash } from './revision-builder.js';
import type { RuntimeCatalogue } from './runtime-catalogue.js';
import { decideRollout } from './rollout-policy.js';
import { rolloutCanary, type RolloutState } from './rollout-state.js';
import { progressCheck, revisionStart, startFailed, startProgress, type RevisionStart } from './revision-start.js';
import { serviceConditions, type ConditionStatus, type ConditionValue } from './service-conditions.js';
import type { ControllerStore, StoredService } from './state/service-state.js';
import { applyTrafficCommand, type TrafficCommand } from './traffic-commands.js';
import { assignTraffic, isExplicitSplit, type TrafficEntry } from './traffic.js';

export interface Condition {
  type: string;
  status: ConditionStatus;
  /** Knative's severity: absent (Error) conditions decide readiness; `Warning` and `Info` ones only inform. */
  severity?: 'Warning' | 'Info';
  reason?: string;
  message?: string;
  lastTransitionTime: string;
}

/** Most inactive fields named in the `InactiveFields` condition's message. */
const MAX_INACTIVE_NAMED = 10;

/**
 * A component's revisions and traffic (docs/transformer.md): its own revisions, scaling, canary, explicit split
 * and rollout, as each KServe component is its own Knative service. The predictor's are the service record's
 * fields; the transformer's and explainer's are records of their own.
 */
interface ComponentRecord {
  /** Revision names, oldest first. */
  revisions: string[];
  hash: string;
  latestRolledout: string | null;
  previousRolledout: string | null;
  traffic: TrafficEntry[];
  holdReason: string | null;
  /** Progressive delivery state, when a rollout policy drives this component's canary. */
  rollout: RolloutState | null;
}

function emptyComponent(): ComponentRecord {
  return { revisions: [], hash: '', latestRolledout: null, previousRolledout: null, traffic: [], holdReason: null, rollout: null };
}

/** The traffic fields of a component's spec (KServe's canary percent, Sluice's `traffic` and `rollout`). */
interface ComponentTrafficSpec {
  canaryTrafficPercent?: number;
  traffic?: TrafficTargetSpec[];
  rollout?: RolloutPolicy;
}

function trafficSpecOf(isvc: InferenceService, component: ComponentName): ComponentTrafficSpec {
  return (isvc.spec[component] ?? {}) as ComponentTrafficSpec;
}

/** Every component of a service with its record: the predictor (the service record itself) first. */
function componentsOf(rec: ServiceRecord): Array<[ComponentName, ComponentRecord]> {
  return [['predictor', rec], ...rec.chained];
}

interface ServiceRecord {
  object: InferenceService;
  /** The transformer's and explainer's state, for those the spec has. */
  chained: Map<ChainedComponent, ComponentRecord>;
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
  /** Progressive delivery state, when a rollout policy drives the predictor's canary. */
  rollout: RolloutState | null;
  /** Recent events (bounded), newest last. */
  events: ServiceEvent[];
}

/** What the controller needs of the autoscaler (the Autoscaler class; a status-only view in cluster mode). */
export interface ScaleManager {
  /** `existingReplicas`: replicas the revision has now (a restored revision: none), instead of its initial scale. */
  register(rev: Revision, opts?: { existingReplicas?: number }): Promise<void>;
  unregister(revisionKey: string): void;
  status(revisionKey: string): (Pick<RevisionScaleStatus, 'desiredReplicas' | 'readyReplicas' | 'startingReplicas' | 'lastDecision'> & Partial<RevisionScaleStatus>) | null;
}

/** What the controller needs of the data plane's dispatch (the Activator; nothing in the cluster controller). */
export interface Dispatch {
  addRevision(key: string, labels: { namespace: string; service: string; revision: string }): void;
  removeRevision(key: string): void;
  onEndpointEvent(ev: EndpointEvent): void;
  /** The revision failed: requests held for it are answered 503 with `message` now. */
  failRevision?(key: string, message: string): void;
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
  /** Progressive delivery state, when it was kept (embedded mode's state directory, cluster mode's status). */
  rollout?: RolloutState | null;
  /** The service's recent events, when they were kept (cluster mode's status), so the record runs on. */
  events?: ServiceEvent[];
  /** The object is already defaulted as it was applied: it is taken as is, whatever the catalogue says now. */
  defaulted?: boolean;
  /** The transformer's and explainer's rolled-out revisions. */
  components?: StoredService['components'];
}

export interface ServiceEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  time: string;
}

const MAX_EVENTS = 50;

export interface ControllerDeps {
  /** URLs the storage URIs may point at (the `egressAllow` setting; empty: any): deploy/egress-check.ts. */
  egressAllow?: readonly string[];
  /**
   * Whether the gateways can check Kubernetes tokens (`sluice.dev/auth: kubernetes`): true in cluster mode; false
   * (the default, embedded mode: no API server to ask) refuses the annotation at apply.
   */
  kubernetesAuth?: boolean;
  clock: Clock;
  logger: Logger;
  backend: Backend;
  autoscaler: ScaleManager;
  activator: Dispatch;
  /** Called after an InferenceService's spec or status changed (cluster mode writes status back). */
  onChange?: (namespace: string, name: string) => void;
  /** The data plane's routes and revisions (embedded mode); none in cluster mode, whose gateways build their own. */
  snapshot?: SnapshotHolder;
  catalogue: () => RuntimeCatalogue;
  /** Domain of service hosts: `<name>.<namespace>.<domain>`. */
  domain: string;
  /** Port clients reach the gateway on (shown in status URLs when not 80). */
  urlPort?: () => number | undefined;
  /** Most InferenceServices accepted; more are refused with a clear error. */
  maxServices?: number;
  /** Called after the backend drops a replica (the forwarder closes its pool). */
  onEndpointRemoved?: (url: string) => void;
  /** Revisions kept beyond those carrying traffic or rolled out (older ones are deleted). Default 5. */
  revisionHistoryLimit?: number;
  /**
   * Request outcomes per revision, for rollout policies: the in-process OutcomeRecorder (embedded mode) or the
   * fleet's sum from the Store (cluster mode, deploy/fleet-outcomes.ts). Without it a policy never advances.
   */
  outcomes?: { stats(revisionKey: string, since: number): WindowStats | Promise<WindowStats>; forget?(revisionKey: string): void };
  /** How often rollout policies are evaluated. Default 1000 ms. */
  rolloutTickMs?: number;
  /** Makes services durable (embedded mode); apply, traffic changes and delete return once it has. */
  store?: ControllerStore;
  /** Largest InferenceService accepted, serialized (the setting maxObjectBytes); larger ones get 422. */
  maxObjectBytes?: number;
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
  /** Revisions not ready yet, and how their start goes (see revision-start.ts). */
  private readonly starting = new Map<string, RevisionStart>();
  /** Revisions that could not become ready → why (final: they take no traffic; a new spec makes a new revision). */
  private readonly failed = new Map<string, string>();
  /** Revisions whose autoscaler registration has minReplicas forced to 0 because no route reaches them. */
  private readonly parked = new Set<string>();
  private resourceVersion = 0;
  private routesVersion = 0;
  private unsubscribe: (() => void) | null = null;
  private rolloutTimer: ReturnType<Clock['setInterval']> | null = null;
  private evaluating: Promise<void> | null = null;

  constructor(deps: ControllerDeps) {
    this.d = deps;
  }

  start(): void {
    this.unsubscribe = this.d.backend.subscribe((ev) => this.onEndpoint(ev));
    this.rolloutTimer = this.d.clock.setInterval(() => {
      void this.checkStarts();
      void this.evaluateRollouts();
    }, this.d.rolloutTickMs ?? 1000);
    this.publish();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.rolloutTimer) this.d.clock.clearInterval(this.rolloutTimer);
    this.rolloutTimer = null;
  }

  /** Creates or replaces an InferenceService. A serving change makes a new revision; anything else does not. */
  async apply(isvc: InferenceService, source: string): Promise<{ object: InferenceService; created: boolean; newRevision: string | null }> {
    checkObjectSize(isvc, this.d.maxObjectBytes ?? Number.POSITIVE_INFINITY, 'InferenceService', isvc.metadata.name);
    checkStorageEgress(isvc, this.d.egressAllow ?? []);
    if (this.d.kubernetesAuth !== true && isvc.metadata.annotations?.[AUTH_ANNOTATION] === KUBERNETES_AUTH_MODE)
      throw new ValidationError([{ path: `metadata.annotations["${AUTH_ANNOTATION}"]`, message: KUBERNETES_AUTH_EMBEDDED }]);
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
        rollout: null,
        events: [],
        chained: new Map(),
      };
    }
    const hash = servingHash(defaulted, 'predictor');
    let newRevision: string | null = null;
    let revision: Revision | null = null;
    if (hash !== rec.hash) {
      // Never a name used before, even by a revision since deleted (history limit, or a deleted service).
      const generation = Math.max(
        rec.revisions.length === 0 ? 1 : generationOf(rec.revisions[rec.revisions.length - 1]!) + 1,
        this.d.store?.nextRevisionNumber(ns, name) ?? 1,
      );
      // Build first: a spec that cannot become a revision changes nothing.
      revision = buildRevision(defaulted, 'predictor', this.d.catalogue(), { generation, createdAt: now });
      newRevision = revision.name;
    }
    // The transformer and explainer: a new revision each when what it serves changed (built before anything changes).
    const chainedNew: Array<{ component: ChainedComponent; revision: Revision; hash: string }> = [];
    for (const component of CHAINED_COMPONENTS) {
      if (defaulted.spec[component] === undefined) continue;
      const c = rec.chained.get(component);
      const h = servingHash(defaulted, component);
      if (c && c.hash === h) continue;
      const last = c?.revisions.at(-1);
      const generation = Math.max(last === undefined ? 1 : generationOf(last) + 1, this.d.store?.nextRevisionNumber(ns, name) ?? 1);
      chainedNew.push({ component, hash: h, revision: buildRevision(defaulted, component, this.d.catalogue(), { generation, createdAt: now }) });
    }
    const chainedGone = [...rec.chained.keys()].filter((c) => defaulted.spec[c] === undefined);
    this.checkTrafficRevisions(defaulted, 'predictor', newRevision ? [...rec.revisions, newRevision] : rec.revisions);
    for (const component of CHAINED_COMPONENTS) {
      if (defaulted.spec[component] === undefined) continue;
      const made = chainedNew.find((n) => n.component === component)?.revision.name;
      const known = rec.chained.get(component)?.revisions ?? [];
      this.checkTrafficRevisions(defaulted, component, made ? [...known, made] : known);
    }
    const specChanged = created || JSON.stringify(rec.object.spec) !== JSON.stringify(defaulted.spec);
    rec.object = defaulted;
    rec.source = source;
    if (specChanged) rec.generation++;
    rec.resourceVersion = ++this.resourceVersion;
    this.services.set(key, rec);
    const made: Array<{ c: ComponentRecord; revision: Revision; hash: string }> = revision ? [{ c: rec, revision, hash }] : [];
    for (const n of chainedNew) {
      let c = rec.chained.get(n.component);
      if (!c) rec.chained.set(n.component, (c = emptyComponent()));
      made.push({ c, revision: n.revision, hash: n.hash });
    }
    for (const { c, revision: rev, hash: h } of made) {
      const rkey = revisionKey(rev);
      // Every new revision starts one replica now and is held there until ready, so traffic only ever moves to
      // a revision that has been ready — except a component's first revision at initial-scale 0, which has no
      // traffic to take over and starts on its first request (docs/traffic.md, "When traffic moves").
      const a = rev.autoscaling;
      const waitsAtZero = c.revisions.length === 0 && a.initialScale === 0 && a.minReplicas === 0;
      this.starting.set(rkey, revisionStart(startLimits(defaulted.metadata.annotations ?? {}), !waitsAtZero, waitsAtZero ? null : this.d.clock.now()));
      this.revisions.set(rkey, rev);
      c.revisions.push(rev.name);
      c.hash = h;
      this.d.activator.addRevision(rkey, { namespace: ns, service: name, revision: rev.name });
      await this.d.backend.apply(rev);
      await this.d.autoscaler.register(this.scaledAs(rev));
      this.d.logger.info({ service: key, revision: rev.name }, 'revision created');
      this.event(rec, 'Normal', 'RevisionCreated', `created revision ${rev.name}`);
    }
    // A transformer or explainer removed from the spec: its revisions go (the service's URL reaches the predictor).
    for (const component of chainedGone) {
      const c = rec.chained.get(component)!;
      rec.chained.delete(component);
      this.publish();
      for (const n of c.revisions) await this.dropRevision(`${ns}/${n}`);
      this.event(rec, 'Normal', 'ComponentRemoved', `removed the ${component} and its revisions ${c.revisions.join(', ')}`);
    }
    this.reconcileTraffic(rec);
    const notSaved = await this.persist(rec).then(() => null, (err: unknown) => err);
    this.publish();
    await this.afterRouteChange(rec);
    this.d.onChange?.(ns, name);
    if (notSaved) throw new HttpError(500, `${key} is applied but its state could not be saved (it is lost on restart): ${errorMessage(notSaved)}`);
    return { object: this.withStatus(rec), created, newRevision };
  }

  /**
   * Takes over an InferenceService that already has revisions (a restarted controller): its revisions and
   * rollout bookkeeping come from what was stored, so applying the same spec again creates nothing.
   */
  restore(isvc: InferenceService, state: RestoredState, source: string): void {
    const defaulted = state.defaulted ? structuredClone(isvc) : defaultInferenceService(isvc, this.d.catalogue());
    const ns = defaulted.metadata.namespace ?? 'default';
    const key = `${ns}/${defaulted.metadata.name}`;
    // Without a predictor revision there is nothing to route to: the service is applied anew instead.
    if (this.services.has(key) || !state.revisions.some((r) => r.component === 'predictor')) return;
    const revisions = [...state.revisions].sort((a, b) => a.generation - b.generation);
    for (const rev of revisions) {
      const rkey = revisionKey(rev);
      this.revisions.set(rkey, rev);
      this.d.activator.addRevision(rkey, { namespace: ns, service: rev.service, revision: rev.name });
    }
    for (const p of state.proven) this.proven.add(`${ns}/${p}`);
    const limits = startLimits(defaulted.metadata.annotations ?? {});
    for (const rev of revisions) if (!this.proven.has(revisionKey(rev))) this.starting.set(revisionKey(rev), revisionStart(limits, false, null));
    const own = revisions.filter((r) => r.component === 'predictor');
    const latest = own[own.length - 1]!;
    const chained = new Map<ChainedComponent, ComponentRecord>();
    for (const component of CHAINED_COMPONENTS) {
      const mine = revisions.filter((r) => r.component === component);
      if (mine.length === 0) continue;
      const rolled = state.components?.[component];
      chained.set(component, {
        ...emptyComponent(),
        revisions: mine.map((r) => r.name),
        hash: mine[mine.length - 1]!.hash,
        latestRolledout: rolled?.latestRolledout ?? null,
        previousRolledout: rolled?.previousRolledout ?? null,
        rollout: rolled?.rollout ?? null,
      });
    }
    const rec: ServiceRecord = {
      chained,
      object: defaulted,
      uid: state.uid ?? cryptoRandomUid(),
      generation: state.generation ?? 1,
      resourceVersion: ++this.resourceVersion,
      createdAt: state.createdAt ?? new Date(this.d.clock.now()).toISOString(),
      source,
      revisions: own.map((r) => r.name),
      hash: latest.hash,
      latestRolledout: state.latestRolledout,
      previousRolledout: state.previousRolledout,
      traffic: [],
      holdReason: null,
      conditions: new Map(),
      rollout: state.rollout ?? null,
      events: (state.events ?? []).slice(-MAX_EVENTS),
    };
    this.services.set(key, rec);
    this.reconcileTraffic(rec);
    this.publish();
  }

  /**
   * Embedded mode at start: takes back a service saved in the state directory — its revisions keep their names
   * and content whatever the catalogue says now — and hands its revisions to the backend and autoscaler.
   */
  async resume(saved: StoredService): Promise<void> {
    const { object, revisions, proven, latestRolledout, previousRolledout, uid, createdAt, generation, rollout, source, components } = saved;
    this.restore(object, { revisions, proven, latestRolledout, previousRolledout, uid, createdAt, generation, rollout, defaulted: true, components }, source);
    const rec = this.services.get(`${saved.namespace}/${saved.name}`);
    if (!rec) return;
    // No replica survived the restart, and initial-scale is for a new revision: each starts from its minimum.
    // As afterRouteChange leaves them, revisions no route reaches have minReplicas 0.
    const routed = this.routed(rec);
    for (const rev of revisions) {
      await this.d.backend.apply(rev);
      if (routed.has(rev.name)) await this.d.autoscaler.register(rev, { existingReplicas: 0 });
      else {
        this.parked.add(revisionKey(rev));
        await this.d.autoscaler.register({ ...rev, autoscaling: { ...rev.autoscaling, minReplicas: 0 } }, { existingReplicas: 0 });
      }
    }
    await this.afterRouteChange(rec);
  }

  /**
   * Applies a traffic command (`sluice traffic|promote|rollback`) by editing one component's traffic fields (the
   * predictor's unless `component` says otherwise). The result is validated like any spec; on any error nothing
   * changes and the current split stays.
   */
  async updateTraffic(namespace: string, name: string, cmd: TrafficCommand, component: ComponentName = 'predictor'): Promise<InferenceService> {
    const rec = this.services.get(`${namespace}/${name}`);
    if (!rec) throw new HttpError(404, `inferenceservices "${name}" not found`);
    const c = component === 'predictor' ? rec : rec.chained.get(component);
    if (!c) throw new HttpError(404, `inferenceservices "${name}" has no ${component} (spec.${component} is not set)`);
    const what = component === 'predictor' ? `${namespace}/${name}` : `the ${component} of ${namespace}/${name}`;
    if (cmd.op === 'rollback' && (c.latestRolledout === null || (c.latestRolledout === c.revisions.at(-1) && c.previousRolledout === null)))
      throw new HttpError(409, `nothing to roll back to: ${what} has no earlier rolled-out revision`);
    const next = structuredClone(rec.object);
    const p = next.spec[component] as ComponentTrafficSpec;
    const fields = applyTrafficCommand({ canaryTrafficPercent: p.canaryTrafficPercent, traffic: p.traffic }, cmd, c.revisions, component);
    delete p.canaryTrafficPercent;
    delete p.traffic;
    if (fields.canaryTrafficPercent !== undefined) p.canaryTrafficPercent = fields.canaryTrafficPercent;
    if (fields.traffic !== undefined) p.traffic = fields.traffic;
    if (fields.traffic !== undefined && isExplicitSplit(fields.traffic) && p.rollout !== undefined) delete p.rollout;
    // The same schema as every spec: a bad split is refused here, before anything changes.
    const { object } = parseInferenceService(JSON.parse(JSON.stringify(next)) as unknown);
    // A manual split decision ends a progressive rollout (restored if the change is refused).
    const before = c.rollout ? { ...c.rollout } : null;
    if (c.rollout && cmd.op !== 'tag' && cmd.op !== 'remove-tag') {
      // promote / to-latest decide for the canary, rollback against it; other splits just end a running rollout.
      const phase = cmd.op === 'rollback' ? 'RolledBack' : cmd.op === 'promote' || cmd.op === 'to-latest' ? 'Succeeded' : c.rollout.phase === 'Progressing' ? 'Succeeded' : c.rollout.phase;
      c.rollout = { ...c.rollout, phase, message: `${cmd.op} by user` };
    }
    let r: Awaited<ReturnType<Controller['apply']>>;
    try {
      r = await this.apply(object, rec.source);
    } catch (err) {
      c.rollout = before;
      throw err;
    }
    this.event(rec, 'Normal', 'TrafficChanged', `${component === 'predictor' ? '' : `${component} `}${cmd.op}: ${describeTraffic(c.traffic)}`);
    return r.object;
  }

  /** The revisions of a service with their exact spec, newest last. */
  revisionsOf(namespace: string, name: string): Revision[] | null {
    const rec = this.services.get(`${namespace}/${name}`);
    if (!rec) return null;
    return allRevisionNames(rec).flatMap((r) => {
      const rev = this.revisions.get(`${namespace}/${r}`);
      return rev ? [structuredClone(rev)] : [];
    });
  }

  async delete(namespace: string, name: string): Promise<boolean> {
    const key = `${namespace}/${name}`;
    const rec = this.services.get(key);
    if (!rec) return false;
    this.services.delete(key);
    this.resourceVersion++;
    this.publish();
    const last = Math.max(0, ...allRevisionNames(rec).map(generationOf));
    const saved = this.d.store?.remove(namespace, name, last + 1).then(() => null, (err: unknown) => err);
    for (const revName of allRevisionNames(rec)) await this.dropRevision(`${namespace}/${revName}`);
    this.d.logger.info({ service: key }, 'InferenceService deleted');
    const notSaved = await saved;
    if (notSaved) throw new HttpError(500, `${key} is deleted but that could not be saved (it comes back on restart): ${errorMessage(notSaved)}`);
    return true;
  }

  get(namespace: string, name: string): InferenceService | null {
    const rec = this.services.get(`${namespace}/${name}`);
    return rec ? this.withStatus(rec) : null;
  }

  /** `<ns>/<name>` of every service (in one namespace), in no particular order: the admin API pages over these. */
  keys(namespace?: string): string[] {
    const out: string[] = [];
    for (const [k, rec] of this.services) if (namespace === undefined || rec.object.metadata.namespace === namespace) out.push(k);
    return out;
  }

  /**
   * The same object as `get`, but sharing the stored spec instead of copying it: for a caller that serializes
   * it at once and keeps nothing (the admin API's streamed lists), saving a copy of every listed object.
   */
  viewForSerialization(namespace: string, name: string): Readonly<InferenceService> | null {
    const rec = this.services.get(`${namespace}/${name}`);
    return rec ? this.withStatus(rec, false) : null;
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

  /**
   * Revisions to wake with `key` when a request waits for it at zero: for a transformer or explainer, the
   * predictor revisions that take its traffic and have no replica wanted, so both start at once instead of one
   * after the other (docs/transformer.md). Off with `autoscaling.sluice.dev/wake-predictor: "false"`.
   */
  wakeWith(key: string): string[] {
    const rev = this.revisions.get(key);
    if (!rev || rev.component === 'predictor') return [];
    const rec = this.services.get(`${rev.namespace}/${rev.service}`);
    if (!rec) return [];
    return predictorWakeTargets(this.routing(rec), rev).filter((k) => this.revisions.has(k) && this.d.backend.counts(k).desired === 0);
  }

  get resourceVersionNow(): number {
    return this.resourceVersion;
  }

  private onEndpoint(ev: EndpointEvent): void {
    const rkey = ev.endpoint.revisionKey;
    if (ev.type === 'start-failed') {
      this.onStartFailed(rkey, ev.reason);
      return;
    }
    this.d.activator.onEndpointEvent(ev);
    if (ev.type === 'removed') this.d.onEndpointRemoved?.(ev.endpoint.url);
    if (ev.type !== 'ready') return;
    if (this.proven.has(rkey) || this.failed.has(rkey)) return;
    this.proven.add(rkey);
    const start = this.starting.get(rkey);
    this.starting.delete(rkey);
    const rev = this.revisions.get(rkey);
    if (!rev) return;
    // Proven: its own scale settings again, so an idle revision at zero minimum goes back to zero.
    if (start?.floor) void this.d.autoscaler.register(this.scaledAs(rev));
    const rec = this.services.get(`${rev.namespace}/${rev.service}`);
    if (!rec) return;
    this.reconcileTraffic(rec);
    rec.resourceVersion = ++this.resourceVersion;
    this.publish();
    this.persistSoon(rec);
    void this.afterRouteChange(rec);
    this.d.onChange?.(rev.namespace, rev.service);
  }

  /**
   * Every revision named by a component's explicit split or tag must be a revision of that component (or the one
   * this change creates).
   */
  private checkTrafficRevisions(isvc: InferenceService, component: ComponentName, known: readonly string[]): void {
    const list = trafficSpecOf(isvc, component).traffic ?? [];
    const issues = list.flatMap((t, i) =>
      t.revisionName !== undefined && !known.includes(t.revisionName)
        ? [
            {
              path: `spec.${component}.traffic[${i}].revisionName`,
              message: `${component} revision "${t.revisionName}" does not exist; its revisions: ${known.join(', ') || 'none yet'}`,
            },
          ]
        : [],
    );
    if (issues.length > 0) throw new ValidationError(issues, `invalid InferenceService "${isvc.metadata.name}"`);
  }

  /** A revision is ready once a replica of it has answered its readiness probe (never merely for being at zero). */
  private isReady(rkey: string): boolean {
    return this.proven.has(rkey);
  }

  /** A replica of a revision exited before it was ever ready: count it, and fail the revision at its limit. */
  private onStartFailed(rkey: string, reason: string): void {
    const start = this.starting.get(rkey);
    if (!start || this.proven.has(rkey)) return;
    const failure = startFailed(start, reason);
    if (failure !== null) {
      void this.failRevision(rkey, failure);
      return;
    }
    const rev = this.revisions.get(rkey);
    const rec = rev && this.services.get(`${rev.namespace}/${rev.service}`);
    if (!rev || !rec) return;
    rec.resourceVersion = ++this.resourceVersion;
    this.d.onChange?.(rev.namespace, rev.service);
  }

  /** Every tick: revisions that were asked for replicas and are still not ready past their progress deadline fail. */
  async checkStarts(): Promise<void> {
    const now = this.d.clock.now();
    for (const [rkey, start] of this.starting) {
      if (this.parked.has(rkey)) {
        // No route reaches it, so nothing asks it to start: its deadline starts over if it is routed again.
        start.askedAt = null;
        continue;
      }
      // The backend's desired count: cheap, and the same in both modes (the autoscaler writes it).
      const counts = this.d.backend.counts(rkey);
      if ((this.d.backend.admission?.(rkey)?.pending ?? 0) > 0 && counts.starting + counts.ready === 0) {
        // Waiting for the local replica budget, no replica of it started yet: the deadline counts from its start.
        start.askedAt = null;
        continue;
      }
      const asked = counts.desired > 0;
      const failure = progressCheck(start, now, asked);
      if (failure !== null) await this.failRevision(rkey, failure);
    }
  }

  /**
   * Marks a revision failed: it stops being started (the autoscaler forgets it and the backend goes to zero),
   * requests held for it get 503 now, and requests pinned to it later get 503 at once (the snapshot says so).
   */
  private async failRevision(rkey: string, reason: string): Promise<void> {
    const rev = this.revisions.get(rkey);
    if (!rev || this.failed.has(rkey) || this.proven.has(rkey)) return;
    this.starting.delete(rkey);
    this.failed.set(rkey, reason);
    const message = failedMessage(rev.name, reason);
    this.d.autoscaler.unregister(rkey);
    this.d.activator.failRevision?.(rkey, message);
    this.d.logger.warn({ revision: rkey, reason }, 'revision failed');
    const rec = this.services.get(`${rev.namespace}/${rev.service}`);
    if (rec) {
      this.event(rec, 'Warning', 'RevisionFailed', message);
      // A rollout of this revision ends here: rolled back, as a failed gate would.
      for (const [, c] of componentsOf(rec))
        if (c.rollout?.revision === rev.name && c.rollout.phase === 'Progressing') c.rollout = { ...c.rollout, phase: 'RolledBack', message };
      this.reconcileTraffic(rec);
      rec.resourceVersion = ++this.resourceVersion;
    }
    this.publish();
    try {
      if (this.d.backend.markFailed) await this.d.backend.markFailed(rkey, message);
      else await this.d.backend.scale(rkey, 0);
    } catch (err) {
      this.d.logger.warn({ revision: rkey, err: err instanceof Error ? err.message : String(err) }, 'could not stop a failed revision');
    }
    this.d.onChange?.(rev.namespace, rev.service);
  }

  /** What the autoscaler is told of a revision: unrouted ones at minimum 0, unproven new ones at least 1. */
  private scaledAs(rev: Revision): Revision {
    const key = revisionKey(rev);
    const a = rev.autoscaling;
    if (this.parked.has(key)) return a.minReplicas > 0 ? { ...rev, autoscaling: { ...a, minReplicas: 0 } } : rev;
    if (this.starting.get(key)?.floor && a.minReplicas < 1) return { ...rev, autoscaling: { ...a, minReplicas: 1 } };
    return rev;
  }

  /** The newest ready revision of a component (the service record itself is the predictor's). */
  private latestReady(rec: ServiceRecord, c: ComponentRecord = rec): string | null {
    const ns = rec.object.metadata.namespace ?? 'default';
    for (let i = c.revisions.length - 1; i >= 0; i--) if (this.isReady(`${ns}/${c.revisions[i]}`)) return c.revisions[i]!;
    return null;
  }

  /**
   * Every component's traffic: KServe's canary rules, or the component's explicit split (`traffic`), or its
   * rollout policy's current step, each on that component's own revisions.
   */
  private reconcileTraffic(rec: ServiceRecord): void {
    const tagRouting = rec.object.metadata.annotations?.['serving.kserve.io/enable-tag-routing'] === 'true';
    for (const [component, c] of componentsOf(rec)) {
      const spec = trafficSpecOf(rec.object, component);
      const latest = c.revisions[c.revisions.length - 1]!;
      const latestReady = this.latestReady(rec, c);
      const result = assignTraffic({
        latestCreated: latest,
        latestReady,
        latestRolledout: c.latestRolledout,
        previousRolledout: c.previousRolledout,
        canaryTrafficPercent: this.rolloutCanary(rec, c, spec, latest, latestReady),
        tagRouting,
        traffic: spec.traffic ?? null,
      });
      c.traffic = result.traffic;
      c.latestRolledout = result.latestRolledout;
      c.previousRolledout = result.previousRolledout;
      c.holdReason = result.holdReason;
    }
  }

  /**
   * A component's canary percent in force: the spec's, or — when a rollout policy drives the rollout — the
   * policy's current step. A new latest revision over a rolled-out one starts a rollout at the first step.
   */
  private rolloutCanary(rec: ServiceRecord, c: ComponentRecord, spec: ComponentTrafficSpec, latest: string, latestReady: string | null): number | null {
    const r = rolloutCanary({
      prev: c.rollout,
      policy: spec.rollout,
      specCanary: spec.canaryTrafficPercent ?? null,
      explicitSplit: isExplicitSplit(spec.traffic as never),
      latestCreated: latest,
      latestReady,
      latestRolledout: c.latestRolledout,
      now: this.d.clock.now(),
    });
    c.rollout = r.state;
    if (r.started && r.state)
      this.event(rec, 'Normal', 'RolloutStarted', `rolling out ${latest} in steps ${spec.rollout!.steps.join(', ')}% over ${r.state.stable}`);
    return r.canary;
  }

  /** Evaluates every progressing rollout (of any component) once (on a timer; also callable from tests). */
  async evaluateRollouts(): Promise<void> {
    // One evaluation at a time: outcomes may be read from a shared store, and a tick must not overlap the last.
    if (this.evaluating) return this.evaluating;
    this.evaluating = this.evaluateRolloutsOnce().finally(() => {
      this.evaluating = null;
    });
    return this.evaluating;
  }

  private async evaluateRolloutsOnce(): Promise<void> {
    for (const rec of [...this.services.values()]) {
      let changed = false;
      for (const [component, c] of componentsOf(rec)) if (await this.evaluateRollout(rec, component, c)) changed = true;
      if (!changed) continue;
      const ns = rec.object.metadata.namespace ?? 'default';
      this.reconcileTraffic(rec);
      rec.resourceVersion = ++this.resourceVersion;
      this.publish();
      this.persistSoon(rec);
      await this.afterRouteChange(rec);
      this.d.onChange?.(ns, rec.object.metadata.name);
    }
  }

  /** One component's rollout: judged on its canary's and stable revision's outcomes; true when it moved. */
  private async evaluateRollout(rec: ServiceRecord, component: ComponentName, c: ComponentRecord): Promise<boolean> {
    const before = c.rollout;
    const policy = trafficSpecOf(rec.object, component).rollout;
    if (!before || before.phase !== 'Progressing' || !policy) return false;
    const ns = rec.object.metadata.namespace ?? 'default';
    if (this.latestReady(rec, c) !== before.revision) return false;
    const stats = this.d.outcomes;
    const none = { requests: 0, errors: 0, p99Ms: null };
    let canary: WindowStats;
    let stable: WindowStats;
    try {
      [canary, stable] = await Promise.all([
        stats?.stats(`${ns}/${before.revision}`, before.stepStartedAt) ?? none,
        stats?.stats(`${ns}/${before.stable}`, before.stepStartedAt) ?? none,
      ]);
    } catch (err) {
      // No evidence either way (the shared store is unreachable): hold, and say so.
      if (c.rollout) c.rollout.message = `step ${policy.steps[before.step] ?? 100}%: holding, the request outcomes cannot be read: ${errorMessage(err)}`;
      this.d.logger.warn({ service: `${ns}/${rec.object.metadata.name}`, err: errorMessage(err) }, 'rollout outcomes unavailable; holding');
      return false;
    }
    // The rollout moved while the outcomes were read (a new spec, a user's traffic command): decide next tick.
    const r = c.rollout;
    const same = (x: RolloutState | null): x is RolloutState =>
      x !== null && x.revision === before.revision && x.phase === 'Progressing' && x.step === before.step && x.stepStartedAt === before.stepStartedAt;
    if (this.services.get(`${ns}/${rec.object.metadata.name}`) !== rec || !same(r)) return false;
    const now = this.d.clock.now();
    const d = decideRollout({ policy, step: r.step, stepStartedAt: r.stepStartedAt, now, canary, stable });
    r.message = d.reason;
    if (d.action === 'hold') return false;
    if (d.action === 'advance') {
      r.step = d.toStep;
      r.stepStartedAt = now;
      this.event(rec, 'Normal', 'RolloutStepAdvanced', d.reason);
    } else if (d.action === 'promote') {
      r.phase = 'Succeeded';
      this.event(rec, 'Normal', 'RolloutSucceeded', d.reason);
    } else {
      r.phase = 'RolledBack';
      this.event(rec, 'Warning', 'RolloutRolledBack', `rolled back ${r.revision} to ${r.stable}: ${d.reason}`);
      this.d.logger.warn({ service: `${ns}/${rec.object.metadata.name}`, revision: r.revision, reason: d.reason }, 'rollout rolled back');
    }
    return true;
  }

  private event(rec: ServiceRecord, type: ServiceEvent['type'], reason: string, message: string): void {
    rec.events.push({ type, reason, message, time: new Date(this.d.clock.now()).toISOString() });
    if (rec.events.length > MAX_EVENTS) rec.events.splice(0, rec.events.length - MAX_EVENTS);
  }

  /** Revision names the data plane can reach for a service (by weight or by tag), plus the latest created. */
  private routed(rec: ServiceRecord): Set<string> {
    const out = new Set<string>(dataPlaneTargets(this.routing(rec)).map((t) => t.revisionName));
    out.add(rec.revisions[rec.revisions.length - 1]!);
    for (const [component, c] of rec.chained) {
      for (const t of dataPlaneTargets(this.componentRouting(rec, component, c))) out.add(t.revisionName);
      out.add(c.revisions[c.revisions.length - 1]!);
    }
    return out;
  }

  /**
   * After a route change: revisions no route reaches scale to zero whatever their minReplicas (as Knative does
   * for unrouted revisions), routed ones get their own settings back, and old unrouted revisions beyond
   * revisionHistoryLimit that are neither latest- nor previous-rolled-out are deleted.
   */
  private async afterRouteChange(rec: ServiceRecord): Promise<void> {
    const ns = rec.object.metadata.namespace ?? 'default';
    const routed = this.routed(rec);
    for (const name of allRevisionNames(rec)) {
      const key = `${ns}/${name}`;
      const rev = this.revisions.get(key);
      if (!rev) continue;
      const park = !routed.has(name);
      if (park === this.parked.has(key) || this.failed.has(key)) continue;
      if (park) this.parked.add(key);
      else this.parked.delete(key);
      await this.d.autoscaler.register(this.scaledAs(rev));
    }
    const keep = this.d.revisionHistoryLimit ?? 5;
    const doomed: string[] = [];
    // Each component keeps its own history: its routed and rolled-out revisions, and `keep` idle ones.
    for (const c of [rec as ComponentRecord, ...rec.chained.values()]) {
      const protectedNames = new Set([...routed, c.latestRolledout, c.previousRolledout, c.rollout?.stable]);
      const idle = c.revisions.filter((n) => !protectedNames.has(n));
      const gone = idle.slice(0, Math.max(0, idle.length - keep));
      if (gone.length === 0) continue;
      c.revisions = c.revisions.filter((n) => !gone.includes(n));
      doomed.push(...gone);
    }
    if (doomed.length === 0) return;
    for (const n of doomed) {
      await this.dropRevision(`${ns}/${n}`);
      this.event(rec, 'Normal', 'RevisionDeleted', `deleted revision ${n}: no traffic, not rolled out, beyond the ${keep} kept`);
    }
    rec.resourceVersion = ++this.resourceVersion;
    this.publish();
    this.persistSoon(rec);
    this.d.onChange?.(ns, rec.object.metadata.name);
  }

  /** Saves a service through the store (when there is one); resolves once durable. */
  private persist(rec: ServiceRecord): Promise<void> {
    const store = this.d.store;
    const ns = rec.object.metadata.namespace ?? 'default';
    const name = rec.object.metadata.name;
    // A record replaced or deleted meanwhile is not saved over what replaced it.
    if (!store || this.services.get(`${ns}/${name}`) !== rec) return Promise.resolve();
    return store.save(ns, name, () => this.stored(rec));
  }

  /** Saves a change nobody waits for (a revision proven, a rollout step, old revisions deleted). */
  private persistSoon(rec: ServiceRecord): void {
    this.persist(rec).catch((err: unknown) =>
      this.d.logger.error({ err, service: `${rec.object.metadata.namespace ?? 'default'}/${rec.object.metadata.name}` }, 'cannot save service state'),
    );
  }

  private stored(rec: ServiceRecord): StoredService {
    const ns = rec.object.metadata.namespace ?? 'default';
    return {
      namespace: ns,
      name: rec.object.metadata.name,
      object: rec.object,
      source: rec.source,
      uid: rec.uid,
      createdAt: rec.createdAt,
      generation: rec.generation,
      revisions: allRevisionNames(rec).flatMap((n) => this.revisions.get(`${ns}/${n}`) ?? []),
      proven: allRevisionNames(rec).filter((n) => this.proven.has(`${ns}/${n}`)),
      latestRolledout: rec.latestRolledout,
      previousRolledout: rec.previousRolledout,
      rollout: rec.rollout,
      ...(rec.chained.size > 0
        ? {
            components: Object.fromEntries(
              [...rec.chained].map(([k, c]) => [k, { latestRolledout: c.latestRolledout, previousRolledout: c.previousRolledout, ...(c.rollout ? { rollout: c.rollout } : {}) }]),
            ),
          }
        : {}),
    };
  }

  private async dropRevision(rkey: string): Promise<void> {
    this.d.autoscaler.unregister(rkey);
    this.d.activator.removeRevision(rkey);
    this.d.outcomes?.forget?.(rkey);
    this.revisions.delete(rkey);
    this.proven.delete(rkey);
    this.starting.delete(rkey);
    this.failed.delete(rkey);
    this.parked.delete(rkey);
    await this.d.backend.remove(rkey);
  }

  /** What the data plane needs of a service (deploy/data-plane-projection.ts builds the routes from it). */
  private routing(rec: ServiceRecord): ServiceRouting {
    const ns = rec.object.metadata.namespace ?? 'default';
    const failed = new Map<string, string>();
    const proven = new Set<string>();
    for (const name of allRevisionNames(rec)) {
      const reason = this.failed.get(`${ns}/${name}`);
      if (reason !== undefined) failed.set(name, reason);
      if (this.proven.has(`${ns}/${name}`)) proven.add(name);
    }
    return {
      namespace: ns,
      name: rec.object.metadata.name,
      annotations: rec.object.metadata.annotations ?? {},
      traffic: rec.traffic,
      latestCreated: rec.revisions[rec.revisions.length - 1] ?? null,
      specTags: specTagsOf(trafficSpecOf(rec.object, 'predictor').traffic),
      failed,
      proven,
      ...(rec.chained.size > 0 ? { components: Object.fromEntries([...rec.chained].map(([k, c]) => [k, this.componentRouting(rec, k, c)])) } : {}),
    };
  }

  private componentRouting(rec: ServiceRecord, component: ChainedComponent, c: ComponentRecord): ComponentRouting & { specTags: ReturnType<typeof specTagsOf> } {
    return { traffic: c.traffic, latestCreated: c.revisions[c.revisions.length - 1] ?? null, specTags: specTagsOf(trafficSpecOf(rec.object, component).traffic) };
  }

  /**
   * Marks the data plane's snapshot stale; the holder rebuilds it from scratch right after this turn's changes
   * (once for a burst), off the request path.
   */
  private publish(): void {
    this.d.snapshot?.invalidate(() => this.buildSnapshot());
  }

  private buildSnapshot(): DataPlaneSnapshot {
    const services = [...this.services.values()];
    const revisions = services.flatMap((rec) => {
      const ns = rec.object.metadata.namespace ?? 'default';
      return allRevisionNames(rec).flatMap((name) => this.revisions.get(`${ns}/${name}`) ?? []);
    });
    const p = projectDataPlane(services.map((rec) => this.routing(rec)), revisions, this.d.domain);
    return { routes: buildRouteTable(p.routes, this.d.domain, ++this.routesVersion), revisions: p.revisions };
  }

  private url(host: string): string {
    const port = this.d.urlPort?.();
    return `http://${host}${port && port !== 80 ? `:${port}` : ''}`;
  }

  private withStatus(rec: ServiceRecord, copy = true): InferenceService & { status: unknown } {
    const ns = rec.object.metadata.namespace ?? 'default';
    const name = rec.object.metadata.name;
    const host = `${name}.${ns}.${this.d.domain}`;
    const predictorUrlHost = predictorHost(ns, name, this.d.domain);
    const latestCreated = rec.revisions[rec.revisions.length - 1] ?? null;
    const latestReady = this.latestReady(rec);
    const now = new Date(this.d.clock.now()).toISOString();
    const start = latestCreated ? this.starting.get(`${ns}/${latestCreated}`) : undefined;
    const conditions = serviceConditions({
      service: `${ns}/${name}`,
      latestCreated,
      latestReady,
      failure: latestCreated ? this.failed.get(`${ns}/${latestCreated}`) : undefined,
      starting: start ? startProgress(start) : null,
      waitsAtZero: start !== undefined && start.askedAt === null && !start.floor && latestReady === null,
      holdReason: rec.holdReason,
      routed: rec.traffic.length > 0,
      rollout: rec.rollout,
    });
    if (!rec.rollout) rec.conditions.delete('RolloutSucceeded');
    // KServe's TransformerReady / ExplainerReady; the service is Ready when every component is.
    for (const component of CHAINED_COMPONENTS) {
      const type = `${component[0]!.toUpperCase()}${component.slice(1)}Ready`;
      const c = rec.chained.get(component);
      if (!c) {
        rec.conditions.delete(type);
        rec.conditions.delete(type.replace(/Ready$/, 'RolloutSucceeded'));
        continue;
      }
      const created = c.revisions[c.revisions.length - 1] ?? null;
      const cStart = created ? this.starting.get(`${ns}/${created}`) : undefined;
      const ready = this.latestReady(rec, c);
      const own = serviceConditions({
        service: `${ns}/${name} (${component})`,
        latestCreated: created,
        latestReady: ready,
        failure: created ? this.failed.get(`${ns}/${created}`) : undefined,
        starting: cStart ? startProgress(cStart) : null,
        waitsAtZero: cStart !== undefined && cStart.askedAt === null && !cStart.floor && ready === null,
        holdReason: c.holdReason,
        routed: c.traffic.length > 0,
        rollout: c.rollout,
      });
      const ownReady = own.find(([t]) => t === 'PredictorReady')![1];
      conditions.push([type, ownReady]);
      // The component's own rollout: `TransformerRolloutSucceeded` (or Explainer…), as RolloutSucceeded is the predictor's.
      const rolloutType = type.replace(/Ready$/, 'RolloutSucceeded');
      const ownRollout = own.find(([t]) => t === 'RolloutSucceeded');
      if (ownRollout) conditions.push([rolloutType, ownRollout[1]]);
      else rec.conditions.delete(rolloutType);
      const overall = conditions.find(([t]) => t === 'Ready')!;
      if (overall[1][0] === 'True' && ownReady[0] !== 'True') overall[1] = [ownReady[0], `${type.replace(/Ready$/, '')}NotReady`, ownReady[2]];
    }
    for (const [type, value] of conditions) this.setCondition(rec, type, value, now);
    this.inactiveFieldsCondition(rec, now);
    const r = rec.rollout;
    const routedNow = new Map<string, { percent: number; tags: string[] }>();
    const everyTarget = [
      ...dataPlaneTargets(this.routing(rec)),
      ...[...rec.chained].flatMap(([component, c]) => dataPlaneTargets(this.componentRouting(rec, component, c))),
    ];
    for (const t of everyTarget) {
      const e = routedNow.get(t.revisionName) ?? { percent: 0, tags: [] };
      e.percent += t.percent;
      if (t.tag) e.tags.push(t.tag);
      routedNow.set(t.revisionName, e);
    }
    const revisions = allRevisionNames(rec).map((revName) => {
      const s = this.d.autoscaler.status(`${ns}/${revName}`);
      const rev = this.revisions.get(`${ns}/${revName}`);
      return {
        name: revName,
        component: rev?.component ?? 'predictor',
        createdAt: rev?.createdAt ?? null,
        ready: this.isReady(`${ns}/${revName}`),
        ...(this.failed.has(`${ns}/${revName}`) ? { failed: this.failed.get(`${ns}/${revName}`) } : {}),
        trafficPercent: routedNow.get(revName)?.percent ?? 0,
        tags: routedNow.get(revName)?.tags ?? [],
        desiredReplicas: s?.desiredReplicas ?? 0,
        readyReplicas: s?.readyReplicas ?? 0,
        startingReplicas: s?.startingReplicas ?? 0,
        ...(s?.pendingReplicas ? { pendingReplicas: s.pendingReplicas } : {}),
        lastScaleDecision: s?.lastDecision ?? null,
        ...(s?.events ? { scaleEvents: s.events } : {}),
        ...(s?.conditions && s.conditions.length > 0 ? { conditions: s.conditions } : {}),
        ...(s?.startupSeconds ? { startupSeconds: s.startupSeconds } : {}),
        ...(s?.keepWarm ? { keepWarm: s.keepWarm } : {}),
      };
    });
    // A revision held back by GPU capacity or by the replica budget says so at the top level too.
    const revConditions = revisions.flatMap((r) => ('conditions' in r ? (r.conditions ?? []) : []));
    for (const [type, okReason] of [['GpuCapacity', 'Sufficient'], ['ResourcesAvailable', 'ReplicasAdmitted']] as const) {
      const held = revConditions.find((c) => c.type === type && c.status === 'False');
      if (held) this.setCondition(rec, type, ['False', held.reason, held.message], now);
      else if (rec.conditions.has(type)) this.setCondition(rec, type, ['True', okReason], now);
    }
    const object = copy ? structuredClone(rec.object) : rec.object;
    return {
      ...object,
      metadata: {
        ...object.metadata,
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
          predictor: this.componentStatus(rec, rec, predictorUrlHost),
          ...Object.fromEntries(
            [...rec.chained].map(([component, c]) => [component, this.componentStatus(rec, c, componentHost(ns, rec.object.metadata.name, component, this.d.domain))]),
          ),
        },
        ...(r
          ? {
              rollout: {
                revision: r.revision,
                stable: r.stable,
                phase: r.phase,
                step: r.step,
                stepStartedAt: new Date(r.stepStartedAt).toISOString(),
                canaryReady: r.canaryReady,
                message: r.message,
              },
            }
          : {}),
        revisions,
        events: rec.events.map((e) => ({ ...e })),
      },
    } as InferenceService & { status: unknown };
  }

  /**
   * `status.components.<component>` for the predictor (`c` is the service record itself) and each chained
   * component: its URL, revision names (KServe omits empty ones), and traffic with each tag's URL.
   */
  private componentStatus(rec: ServiceRecord, c: ComponentRecord, host: string): Record<string, unknown> {
    const named = (k: string, v: string | null | undefined): Record<string, string> => (v ? { [k]: v } : {});
    return {
      url: this.url(host),
      ...named('latestCreatedRevision', c.revisions.at(-1)),
      ...named('latestReadyRevision', this.latestReady(rec, c)),
      ...named('latestRolledoutRevision', c.latestRolledout),
      ...named('previousRolledoutRevision', c.previousRolledout),
      ...(c.rollout
        ? {
            rollout: {
              revision: c.rollout.revision,
              stable: c.rollout.stable,
              phase: c.rollout.phase,
              step: c.rollout.step,
              stepStartedAt: new Date(c.rollout.stepStartedAt).toISOString(),
              canaryReady: c.rollout.canaryReady,
              message: c.rollout.message,
            },
          }
        : {}),
      traffic: c.traffic.map((t) => ({
        ...(t.tag ? { tag: t.tag } : {}),
        revisionName: t.revisionName,
        latestRevision: t.latestRevision,
        percent: t.percent,
        ...(t.tag ? { url: this.url(`${t.tag}-${host}`) } : {}),
      })),
    };
  }

  /**
   * `InactiveFields` (severity Warning, so readiness is untouched): the spec sets fields accepted but not active
   * yet (api/inactive-fields.ts) — the admin API and the CLI warn at apply time; this is what cluster mode and
   * later readers see.
   */
  private inactiveFieldsCondition(rec: ServiceRecord, now: string): void {
    const inactive = inactiveFields(rec.object);
    if (inactive.length === 0) {
      rec.conditions.delete('InactiveFields');
      return;
    }
    const named = inactive.slice(0, MAX_INACTIVE_NAMED).map(inactiveFieldWarning);
    const more = inactive.length > MAX_INACTIVE_NAMED ? [`and ${inactive.length - MAX_INACTIVE_NAMED} more`] : [];
    this.setCondition(rec, 'InactiveFields', ['True', 'AcceptedNotActive', [...named, ...more].join('; ')], now);
    rec.conditions.get('InactiveFields')!.severity = 'Warning';
  }

  private setCondition(rec: ServiceRecord, type: string, c: ConditionValue, now: string): void {
    const [status, reason, message] = c;
    const prev = rec.conditions.get(type);
    rec.conditions.set(type, {
      type,
      status,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
    });
  }
}

function describeTraffic(traffic: readonly TrafficEntry[]): string {
  return traffic.map((t) => `${t.revisionName}=${t.percent}%${t.tag ? ` (tag ${t.tag})` : ''}`).join(', ') || 'no traffic';
}

/** Every revision name of a service: the predictor's, then the transformer's and the explainer's. */
function allRevisionNames(rec: ServiceRecord): string[] {
  const out = [...rec.revisions];
  for (const c of rec.chained.values()) out.push(...c.revisions);
  return out;
}

function generationOf(revName: string): number {
  const m = /-(\d+)$/.exec(revName);
  return m ? Number(m[1]) : 0;
}

function cryptoRandomUid(): string {
  return globalThis.crypto.randomUUID();
}

