import { ApiException, CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { parseInferenceService, type InferenceService } from '../../api/inferenceservice.js';
import type { Revision } from '../../api/revision.js';
import type { Clock } from '../../core/clock.js';
import { SERVE_DEFAULTS } from '../../core/config.js';
import { errorMessage } from '../../core/errors.js';
import type { Logger } from '../../core/log.js';
import type { Backend } from '../../api/backend.js';
import { Controller, type ControllerDeps, type RestoredState, type ServiceEvent } from '../controller.js';
import type { RolloutState } from '../rollout-state.js';
import type { RuntimeCatalogue } from '../runtime-catalogue.js';
import { LeaderRole } from './leader-role.js';
import { resilientInformer, type ResilientInformer } from './watch.js';

/** The revisions a backend already runs, read back after a restart (Kubernetes: from the Deployments). */
export interface RevisionLister {
  listRevisions(): Promise<Revision[]>;
}

export interface ClusterControllerOptions {
  kc: KubeConfig;
  backend: Backend & RevisionLister;
  catalogue: () => RuntimeCatalogue;
  clock: Clock;
  logger: Logger;
  /** API group of the InferenceService CRD: `serving.sluice.dev` (default) or `serving.kserve.io`. */
  group?: string;
  domain: string;
  /** This instance's name in the leader Lease (the pod name). */
  identity: string;
  /** Namespace of the leader Lease. */
  leaseNamespace?: string;
  leaseDurationMs?: number;
  retryPeriodMs?: number;
  /** URLs storage URIs may point at (the `egressAllow` setting; empty: any): deploy/egress-check.ts. */
  egressAllow?: readonly string[];
  /**
   * The fleet's request outcomes per revision (deploy/fleet-outcomes.ts over the gateways' Redis), for rollout
   * policies. Without it a rollout policy never advances.
   */
  outcomes?: ControllerDeps['outcomes'];
  /** How often rollout policies are evaluated (ms). Default 1000. */
  rolloutTickMs?: number;
}

type IsvcObject = KubernetesObject & { spec?: unknown; status?: Record<string, unknown> };

/**
 * `sluice controller`: watches InferenceServices, turns each into revisions and workloads on the Kubernetes
 * backend, and writes status back. Only the holder of the `sluice-controller` Lease acts; a restarted or newly
 * elected controller reads the revisions and rollout state back before it changes anything.
 */
export class ClusterController {
  private readonly o: ClusterControllerOptions;
  private readonly api: CustomObjectsApi;
  private readonly group: string;
  private readonly role: LeaderRole;
  private controller: Controller | null = null;
  private informer: ResilientInformer | null = null;
  private readonly lastStatus = new Map<string, string>();
  /** uid of each InferenceService seen, for owner references on its revisions' objects (bounded by them). */
  private readonly uids = new Map<string, string>();

  constructor(o: ClusterControllerOptions) {
    this.o = o;
    this.group = o.group ?? SERVE_DEFAULTS.group;
    this.api = o.kc.makeApiClient(CustomObjectsApi);
    this.role = new LeaderRole({ ...o, leaseName: 'sluice-controller', lead: () => this.lead(), follow: () => this.follow() });
  }

  /** The owner reference for a revision's Deployment and Service: its InferenceService. */
  ownerOf(rev: Revision): { apiVersion: string; kind: string; name: string; uid: string } | undefined {
    const uid = this.uids.get(`${rev.namespace}/${rev.service}`);
    return uid ? { apiVersion: `${this.group}/v1beta1`, kind: 'InferenceService', name: rev.service, uid } : undefined;
  }

  get isLeader(): boolean {
    return this.role.isLeader;
  }

  start(): void {
    this.role.start();
  }

  stop(): Promise<void> {
    return this.role.stop();
  }

  /** Resolves when every queued reconcile has run (tests). */
  idle(): Promise<void> {
    return this.role.idle();
  }

  private enqueue(job: () => Promise<void>): void {
    this.role.enqueue(job);
  }

  private async lead(): Promise<void> {
    this.o.logger.info({ identity: this.o.identity }, 'leading: taking over InferenceServices');
    const controller = new Controller({
      clock: this.o.clock,
      logger: this.o.logger,
      backend: this.o.backend,
      // The autoscaler role scales; here the controller only reads replica counts for status.
      autoscaler: {
        register: async () => undefined,
        unregister: () => undefined,
        status: (key) => {
          const c = this.o.backend.counts(key);
          return { desiredReplicas: c.desired, readyReplicas: c.ready, startingReplicas: c.starting, lastDecision: null };
        },
      },
      activator: { addRevision: () => undefined, removeRevision: () => undefined, onEndpointEvent: () => undefined },
      catalogue: this.o.catalogue,
      domain: this.o.domain,
      egressAllow: this.o.egressAllow,
      // The gateways review Kubernetes tokens against the API server (gateway/stages/auth/kube-reviews.ts).
      kubernetesAuth: true,
      outcomes: this.o.outcomes,
      rolloutTickMs: this.o.rolloutTickMs,
      onChange: (ns, name) => this.enqueue(() => this.writeStatus(ns, name)),
    });
    this.controller = controller;
    // Read back what exists before reacting to anything.
    const existing = await this.o.backend.listRevisions();
    const list = (await this.api.listCustomObjectForAllNamespaces({ group: this.group, version: 'v1beta1', plural: 'inferenceservices' })) as KubernetesListObject<IsvcObject>;
    for (const obj of list.items) {
      const parsed = this.parse(obj);
      if (!parsed) continue;
      const ns = obj.metadata?.namespace ?? 'default';
      const revisions = existing.filter((r) => r.namespace === ns && r.service === obj.metadata?.name);
      controller.restore(parsed, restoredState(obj, revisions), 'crd');
    }
    controller.start();
    this.informer = resilientInformer<IsvcObject>(
      this.o.kc,
      `/apis/${this.group}/v1beta1/inferenceservices`,
      () => this.api.listCustomObjectForAllNamespaces({ group: this.group, version: 'v1beta1', plural: 'inferenceservices' }) as Promise<KubernetesListObject<IsvcObject>>,
      {
        upsert: (obj) => this.enqueue(() => this.reconcile(obj)),
        remove: (obj) => this.enqueue(async () => {
          await this.controller?.delete(obj.metadata?.namespace ?? 'default', obj.metadata?.name ?? '');
          this.lastStatus.delete(`${obj.metadata?.namespace}/${obj.metadata?.name}`);
          this.uids.delete(`${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name}`);
        }),
      },
      { clock: this.o.clock, logger: this.o.logger },
    );
    await this.informer.start();
  }

  private async follow(): Promise<void> {
    await this.informer?.stop();
    this.informer = null;
    this.controller?.stop();
    this.controller = null;
    this.lastStatus.clear();
  }

  private parse(obj: IsvcObject): InferenceService | null {
    if (obj.metadata?.uid) this.uids.set(`${obj.metadata.namespace ?? 'default'}/${obj.metadata.name}`, obj.metadata.uid);
    const { status: _s, ...rest } = obj as IsvcObject & Record<string, unknown>;
    const doc = { ...rest, apiVersion: 'serving.kserve.io/v1beta1' } as Record<string, unknown>;
    const md = { ...(obj.metadata ?? {}) } as Record<string, unknown>;
    for (const k of ['managedFields', 'ownerReferences', 'finalizers', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink', 'generateName']) delete md[k];
    doc.metadata = md;
    try {
      return parseInferenceService(doc).object;
    } catch (err) {
      this.o.logger.error({ isvc: `${obj.metadata?.namespace}/${obj.metadata?.name}` }, `invalid InferenceService: ${errorMessage(err)}`);
      void this.writeFailure(obj, errorMessage(err));
      return null;
    }
  }

  private async reconcile(obj: IsvcObject): Promise<void> {
    const c = this.controller;
    if (!c || !this.role.isLeader) return;
    const parsed = this.parse(obj);
    if (!parsed) return;
    try {
      await c.apply(parsed, 'crd');
    } catch (err) {
      await this.writeFailure(obj, errorMessage(err));
    }
  }

  /** Writes status through the status subresource; on 409 re-reads and retries. Skips identical writes. */
  private async writeStatus(ns: string, name: string): Promise<void> {
    const c = this.controller;
    if (!c || !this.role.isLeader) return;
    const current = c.get(ns, name) as (InferenceService & { status?: Record<string, unknown> }) | null;
    if (!current?.status) return;
    for (let attempt = 0; attempt < 5; attempt++) {
      let live: IsvcObject;
      try {
        live = (await this.api.getNamespacedCustomObject({ group: this.group, version: 'v1beta1', namespace: ns, plural: 'inferenceservices', name })) as IsvcObject;
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return;
        throw err;
      }
      const status = { ...current.status, observedGeneration: live.metadata?.generation ?? 1 };
      // A fence besides the Lease: never put a rollout back behind what a leader already wrote.
      if (rolloutBehind(current.status.rollout, live.status?.rollout)) {
        this.o.logger.warn({ isvc: `${ns}/${name}` }, 'status holds a rollout further along than this controller knows; not overwriting it');
        return;
      }
      const text = JSON.stringify(status);
      if (this.lastStatus.get(`${ns}/${name}`) === text && JSON.stringify(live.status ?? {}) === text) return;
      try {
        await this.api.replaceNamespacedCustomObjectStatus({
          group: this.group,
          version: 'v1beta1',
          namespace: ns,
          plural: 'inferenceservices',
          name,
          body: { ...live, status },
        });
        this.lastStatus.set(`${ns}/${name}`, text);
        return;
      } catch (err) {
        if (err instanceof ApiException && err.code === 409) continue;
        throw err;
      }
    }
    this.o.logger.warn({ isvc: `${ns}/${name}` }, 'status write kept conflicting; will retry on the next change');
  }

  private async writeFailure(obj: IsvcObject, message: string): Promise<void> {
    const ns = obj.metadata?.namespace ?? 'default';
    const name = obj.metadata?.name ?? '';
    const now = new Date(this.o.clock.now()).toISOString();
    const status = {
      ...(obj.status ?? {}),
      observedGeneration: obj.metadata?.generation ?? 1,
      conditions: [{ type: 'Ready', status: 'False', reason: 'InvalidSpec', message, lastTransitionTime: now }],
    };
    try {
      await this.api.replaceNamespacedCustomObjectStatus({ group: this.group, version: 'v1beta1', namespace: ns, plural: 'inferenceservices', name, body: { ...obj, status } });
    } catch (err) {
      this.o.logger.warn({ err: errorMessage(err) }, 'could not write the failure status');
    }
  }
}

/**
 * Rollout bookkeeping from the stored status plus the revisions the backend still runs: the rolled-out
 * revisions, a progressive rollout's step and window start, and the service's events. A new leader thus goes on
 * from the last state a leader wrote; a step the old leader took but never wrote did not reach the gateways
 * either (they route by status), so taking it again takes it once.
 */
function restoredState(obj: IsvcObject, revisions: Revision[]): RestoredState {
  const components = (obj.status?.components ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const p = components.predictor ?? {};
  const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
  // Each component's revisions up to its latest ready one have been ready.
  const proven = revisions
    .filter((r) => {
      const ready = str(components[r.component]?.latestReadyRevision);
      return ready !== null && r.generation <= generationOf(ready);
    })
    .map((r) => r.name);
  const chained: NonNullable<RestoredState['components']> = {};
  for (const c of ['transformer', 'explainer'] as const) {
    const st = components[c];
    if (st) chained[c] = { latestRolledout: str(st.latestRolledoutRevision), previousRolledout: str(st.previousRolledoutRevision) };
  }
  return {
    revisions,
    proven,
    latestRolledout: str(p.latestRolledoutRevision),
    previousRolledout: str(p.previousRolledoutRevision),
    uid: obj.metadata?.uid,
    createdAt: obj.metadata?.creationTimestamp ? new Date(obj.metadata.creationTimestamp).toISOString() : undefined,
    generation: obj.metadata?.generation,
    components: chained,
    rollout: restoredRollout(obj.status?.rollout),
    events: restoredEvents(obj.status?.events),
  };
}

/** `mine` is the same rollout as `stored` at an earlier step (or still progressing where it has finished). */
function rolloutBehind(mine: unknown, stored: unknown): boolean {
  const a = restoredRollout(mine);
  const b = restoredRollout(stored);
  if (!a || !b || a.revision !== b.revision) return false;
  const rank = (r: RolloutState): number => (r.phase === 'Progressing' ? r.step : Number.POSITIVE_INFINITY);
  return rank(a) < rank(b);
}

/** status.rollout as written by Controller.withStatus; null when absent or not whole. */
function restoredRollout(v: unknown): RolloutState | null {
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const at = typeof r.stepStartedAt === 'string' ? Date.parse(r.stepStartedAt) : Number.NaN;
  if (typeof r.revision !== 'string' || typeof r.stable !== 'string' || typeof r.step !== 'number' || !Number.isFinite(at)) return null;
  if (r.phase !== 'Progressing' && r.phase !== 'Succeeded' && r.phase !== 'RolledBack') return null;
  return {
    revision: r.revision,
    stable: r.stable,
    step: r.step,
    stepStartedAt: at,
    phase: r.phase,
    message: typeof r.message === 'string' ? r.message : '',
    canaryReady: r.canaryReady === true,
  };
}

function restoredEvents(v: unknown): ServiceEvent[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((e: unknown) => {
    const x = e as Record<string, unknown> | null;
    if (!x || (x.type !== 'Normal' && x.type !== 'Warning') || typeof x.reason !== 'string' || typeof x.message !== 'string' || typeof x.time !== 'string') return [];
    return [{ type: x.type, reason: x.reason, message: x.message, time: x.time }];
  });
}

function generationOf(name: string): number {
  const m = /-(\d+)$/.exec(name);
  return m ? Number(m[1]) : 0;
}
