import { CustomObjectsApi, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { revisionKey, type Revision } from '../../api/revision.js';
import type { Clock } from '../../core/clock.js';
import { SERVE_DEFAULTS } from '../../core/config.js';
import type { Logger } from '../../core/log.js';
import type { SnapshotHolder } from '../../gateway/data-plane.js';
import { buildRouteTable } from '../../gateway/route-table.js';
import type { Dispatch } from '../controller.js';
import { predictorWakeTargets, projectDataPlane, type ServiceRouting } from '../data-plane-projection.js';
import { serviceRoutingOf } from './service-routing.js';
import { watchRevisions } from './revision-watch.js';
import { resilientInformer, type ResilientInformer } from './watch.js';

type IsvcObject = KubernetesObject & { spec?: { predictor?: { traffic?: unknown } }; status?: unknown };

/**
 * The cluster gateway's view of the world: routes from InferenceServices' status (the controller's traffic
 * assignment) and revisions from their Deployments, published as one snapshot on every change.
 */
export class ClusterRoutes {
  private readonly services = new Map<string, ServiceRouting>();
  private readonly revisions = new Map<string, Revision>();
  /** What was last routed per service, to skip status updates that do not change it. */
  private readonly routingSeen = new Map<string, string>();
  private informers: ResilientInformer[] = [];
  private version = 0;
  /** Revisions whose failure this gateway has acted on (a subset of the known revisions). */
  private readonly failedSeen = new Set<string>();

  constructor(
    private readonly o: { kc: KubeConfig; group?: string; domain: string; snapshot: SnapshotHolder; dispatch: Dispatch; clock: Clock; logger: Logger },
  ) {}

  async start(): Promise<void> {
    const api = this.o.kc.makeApiClient(CustomObjectsApi);
    const group = this.o.group ?? SERVE_DEFAULTS.group;
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
          const routing = serviceRoutingOf(obj);
          const key = `${routing.namespace}/${routing.name}`;
          // Status is rewritten often (replica counts); the route only changes with what it is built from.
          const signature = JSON.stringify({ ...routing, failed: [...routing.failed] });
          if (this.routingSeen.get(key) === signature) return;
          this.routingSeen.set(key, signature);
          this.services.set(key, routing);
          this.publish();
        },
        remove: (obj) => {
          const key = `${obj.metadata?.namespace ?? 'default'}/${obj.metadata?.name}`;
          this.services.delete(key);
          this.routingSeen.delete(key);
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
   * Revisions to wake with `key` when a request waits for it at zero: for a transformer or explainer, its
   * predictor's revisions that take traffic, this gateway knows, and `atZero` says have no replica wanted — so
   * both start at once, as in embedded mode (Controller.wakeWith; docs/transformer.md).
   */
  wakeWith(key: string, atZero: (key: string) => boolean): string[] {
    const rev = this.revisions.get(key);
    const s = rev && this.services.get(`${rev.namespace}/${rev.service}`);
    if (!rev || !s) return [];
    return predictorWakeTargets(s, rev).filter((k) => this.revisions.has(k) && atZero(k));
  }

  /**
   * Routes only to revisions whose Deployment this gateway has seen: the two watches arrive in any order, and a
   * target it cannot serve yet is left out (its share goes to the others) rather than answered with 503.
   */
  private publish(): void {
    const p = projectDataPlane(this.services.values(), this.revisions.values(), this.o.domain);
    this.o.snapshot.publish({ routes: buildRouteTable(p.routes, this.o.domain, ++this.version), revisions: p.revisions });
    // A revision the controller marked failed in status: what this gateway holds for it is answered 503 now (as
    // the embedded controller tells its activator), not left to wait for its deadline.
    for (const key of this.failedSeen) if (!this.revisions.has(key)) this.failedSeen.delete(key);
    for (const [key, view] of p.revisions) {
      if (view.failed === null || this.failedSeen.has(key)) continue;
      this.failedSeen.add(key);
      this.o.dispatch.failRevision?.(key, view.failed);
    }
  }
}
