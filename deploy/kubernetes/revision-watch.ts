import { AppsV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { revisionKey, type Revision } from '../../api/revision.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/log.js';
import { resilientInformer, type ResilientInformer } from './watch.js';

import { ANNOTATION_FAILED, ANNOTATION_REVISION_SPEC } from '../backends/kubernetes/labels.js';
/** Label every Deployment Sluice owns carries. */
export const MANAGED_SELECTOR = 'app.kubernetes.io/managed-by=sluice';

export function revisionOfDeployment(d: V1Deployment): Revision | null {
  const text = d.metadata?.annotations?.[ANNOTATION_REVISION_SPEC];
  if (!text) return null;
  try {
    const rev = JSON.parse(text) as Revision;
    return typeof rev.name === 'string' && typeof rev.namespace === 'string' ? rev : null;
  } catch {
    return null;
  }
}

/** Watches the Deployments Sluice owns and reports the revisions they carry (cluster gateway and autoscaler). */
export function watchRevisions(
  kc: KubeConfig,
  handlers: {
    /** `failed` is the reason when the controller marked the revision failed (it must not be started), else null. */
    upsert: (rev: Revision, replicas: number, failed: string | null) => void;
    remove: (key: string) => void;
  },
  o: { clock: Clock; logger: Logger },
): ResilientInformer {
  const apps = kc.makeApiClient(AppsV1Api);
  return resilientInformer<V1Deployment>(
    kc,
    '/apis/apps/v1/deployments',
    () => apps.listDeploymentForAllNamespaces({ labelSelector: MANAGED_SELECTOR }),
    {
      upsert: (d) => {
        const rev = revisionOfDeployment(d);
        if (rev) handlers.upsert(rev, d.spec?.replicas ?? 0, d.metadata?.annotations?.[ANNOTATION_FAILED] ?? null);
      },
      remove: (d) => {
        const rev = revisionOfDeployment(d);
        if (rev) handlers.remove(revisionKey(rev));
      },
    },
    { ...o, labelSelector: MANAGED_SELECTOR },
  );
}
