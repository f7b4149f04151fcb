import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { revisionKey, type Revision } from '../../api/revision.js';
import type { Route } from '../../api/route.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import { revisionView, type RevisionView, type SnapshotHolder } from '../../gateway/data-plane.js';
import { buildRouteTable } from '../../gateway/route-table.js';
import type { Dispatch } from '../controller.js';
import { watchRevisions } from './revision-watch.js';
import { resilientInformer, type ResilientInformer } from './watch.js';

type IsvcObject = KubernetesObject & {
  status?: { components?: { predictor?: { traffic?: unknown; latestCreatedRevision?: unknown; latestReadyRevision?: unknown } } };
};

interface TrafficEntry {
  revisionName: string;
  percent: number;
  tag?: string;
  latestRevision?: boolean;
}

/**
 * The cluster gateway's view of the world: routes from InferenceServices' status (the controller's traffic
 * assignment) and revisions from their Deployments, published as one snapshot on every change.
 */
export class ClusterRoutes {
  private readonly services = new Map<string, Route>();
  private readonly revisions = new Map<string, Revision>();
  /** The traffic last routed per service, to skip status updates that do not change it. */
  private readonly trafficSeen = new Map<string, string>();
  /** Per service, the generation of its latest ready revision: revisions up to it have been ready (proven). */
  private readonly readyGeneration = new Map<string, number>();
  private informers: ResilientInformer[] = [];
  private version = 0;

  constructor(
    private readonly o: { kc: KubeConfig; group?: string; domain: string; snapshot: SnapshotHolder; dispatch: Dispatch; clock: Clock; logger: Logger },
  ) {}

  async start(): Promise<void> {
    const api = this.o.kc.makeApiClient(CustomObjectsApi);
    const group = this.o.group ?? 'serving.sluice.dev';
    const revs = watchRevisions(
      this.o.kc,
      {
        upsert: (rev) => {
          const key = revisionKey(rev);
          const known = this.revisions.get(key);
          // Deployment status changes every time replicas move; the revision itself only when re-applied.
          if (known && known.hash === rev.hash && known.timeoutSeconds === rev.timeoutSeconds) return;
          if (!known) this.o.dispatch.addRevision(key, { namespace: rev.namespace, service: rev.service, revision: rev.name });
          this.revisions.set(key, rev);
          this.publish();
        },
        remove: (key) => {
          this.revisions.delete(key);
          this.o.dispatch.removeRevision(key);
          this.publish();
        },
      },
      { clock: this.o.clock, logger: this.o.logger },
    );
    const isvcs = resilientInformer<IsvcObject>(
      this.o.kc,
      `/apis/${group}/v1beta1/inferenceservices`,
      () => api.listCustomObjectForAllNamespaces({ group, version: 'v1beta1', plural: 'inferenceservices' }) as Promise<KubernetesListObject<IsvcObject>>,
      {
        upsert: (obj) => {
          const ns = obj.metadata?.namespace ?? 'default';
          const name = obj.metadata?.name ?? '';
          const predictor = obj.status?.components?.predictor;
          const resolved = (predictor?.traffic ?? []) as TrafficEntry[];
          // Before any revision is ready status has no traffic; route to the latest created, so requests are held
          // while it starts (as in embedded mode).
          const latest = predictor?.latestCreatedRevision;
          const traffic: TrafficEntry[] =
            resolved.length === 0 && typeof latest === 'string' ? [{ revisionName: latest, percent: 100, latestRevision: true }] : resolved;
          const key = `${ns}/${name}`;
          const latestReady = predictor?.latestReadyRevision;
          const readyGeneration = typeof latestReady === 'string' ? generationOf(latestReady) : 0;
          // Status is rewritten often (replica counts); the route only changes with the traffic assignment.
          const signature = `${readyGeneration} ${JSON.stringify(traffic)}`;
          if (this.trafficSeen.get(key) === signature) return;
          this.trafficSeen.set(key, signature);
          this.readyGeneration.set(key, readyGeneration);
          this.services.set(key, {
            namespace: ns,
            service: name,
            modelName: name,
            hosts: [],
            targets: Object.freeze(
              traffic
                .filter((t) => typeof t.revisionName === 'string')
                .map((t) => ({
                  revisionKey: `${ns}/${t.revisionName}`,
                  revisionName: t.revisionName,
                  percent: Number(t.percent ?? 0),
                  tag: t.tag ?? null,
                  latestRevision: t.latestRevision === true,
                })),
            ),
          });
          this.publish();
        },
        remove: (obj) => {
          const key = `${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name}`;
          this.services.delete(key);
          this.trafficSeen.delete(key);
          this.readyGeneration.delete(key);
          this.publish();
        },
      },
      { clock: this.o.clock, logger: this.o.logger },
    );
    this.informers = [revs, isvcs];
    await Promise.all(this.informers.map((i) => i.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.informers.map((i) => i.stop()));
    this.informers = [];
  }

  /**
   * Routes only to revisions whose Deployment this gateway has seen: the two watches arrive in any order, and a
   * target it cannot serve yet is left out (its share goes to the others) rather than answered with 503.
   */
  private publish(): void {
    const views = new Map<string, RevisionView>();
    for (const [key, rev] of this.revisions) {
      const proven = rev.generation <= (this.readyGeneration.get(`${rev.namespace}/${rev.service}`) ?? 0);
      views.set(key, revisionView(rev, null, proven));
    }
    const routes: Route[] = [];
    for (const route of this.services.values()) {
      const targets = route.targets.filter((t) => views.has(t.revisionKey));
      if (targets.some((t) => t.percent > 0 || t.tag !== null)) routes.push({ ...route, targets: Object.freeze(targets) });
    }
    this.o.snapshot.publish({ routes: buildRouteTable(routes, this.o.domain, ++this.version), revisions: views });
  }
}

/** `iris-predictor-00003` → 3 (0 when the name has no generation). */
function generationOf(revisionName: string): number {
  const m = /-(\d+)$/.exec(revisionName);
  return m ? Number(m[1]) : 0;
}
