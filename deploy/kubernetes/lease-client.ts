import { ApiException, CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { LeaseConflict, type LeaseClient, type LeaseRecord } from './leader-election.js';

/** A LeaseClient on a real coordination.k8s.io/v1 Lease, through @kubernetes/client-node. */
export function kubeLeaseClient(kc: KubeConfig, namespace: string, name: string): LeaseClient {
  const api = kc.makeApiClient(CoordinationV1Api);
  const toRecord = (l: V1Lease): LeaseRecord => ({
    holder: l.spec?.holderIdentity ?? null,
    leaseDurationSeconds: l.spec?.leaseDurationSeconds ?? 15,
    acquireTime: l.spec?.acquireTime ? new Date(l.spec.acquireTime).toISOString() : null,
    renewTime: l.spec?.renewTime ? new Date(l.spec.renewTime).toISOString() : null,
    transitions: l.spec?.leaseTransitions ?? 0,
    resourceVersion: l.metadata?.resourceVersion ?? '',
  });
  const toLease = (r: Omit<LeaseRecord, 'resourceVersion'> & { resourceVersion?: string }): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(r.resourceVersion ? { resourceVersion: r.resourceVersion } : {}) },
    spec: {
      holderIdentity: r.holder ?? undefined,
      leaseDurationSeconds: r.leaseDurationSeconds,
      acquireTime: r.acquireTime ? new Date(r.acquireTime) : undefined,
      renewTime: r.renewTime ? new Date(r.renewTime) : undefined,
      leaseTransitions: r.transitions,
    },
  });
  const conflict = (err: unknown): never => {
    if (err instanceof ApiException && (err.code === 409 || err.code === 422)) throw new LeaseConflict(`lease ${namespace}/${name} changed under us`);
    throw err;
  };
  return {
    get: async () => {
      try {
        return toRecord(await api.readNamespacedLease({ name, namespace }));
      } catch (err) {
        if (err instanceof ApiException && err.code === 404) return null;
        throw err;
      }
    },
    create: async (r) => toRecord(await api.createNamespacedLease({ namespace, body: toLease(r) }).catch(conflict)),
    update: async (r) => toRecord(await api.replaceNamespacedLease({ name, namespace, body: toLease(r) }).catch(conflict)),
  };
}
