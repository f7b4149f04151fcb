/**
 * renderNetworkPolicy: one NetworkPolicy per revision. Ingress to the revision's pods only from Sluice's gateways
 * (which hold the activator), on the runtime's port; egress as the service declares (`sluice.dev/egress`, read
 * into `revision.networkEgress`): absent or `all`, egress is not restricted (a model may be downloaded from
 * anywhere by the storage initializer, in the same pod); a CIDR list allows DNS plus those CIDRs only.
 * Kubelet probes are not subject to NetworkPolicies. Pure, like renderRevision.
 */
import type { V1NetworkPolicy, V1NetworkPolicyEgressRule, V1NetworkPolicyIngressRule } from '@kubernetes/client-node';
import type { Revision } from '../../../api/revision.js';
import { LABEL_REVISION } from './labels.js';
import { revisionLabels, servingPorts, type RenderOptions } from './render-revision.js';

/** Where the gateways run: their namespace and pod labels (deploy/manifests/base/gateway.yaml). */
export const DEFAULT_GATEWAY_NAMESPACE = 'sluice-system';
export const DEFAULT_GATEWAY_LABELS: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'sluice-gateway' };

export interface NetworkPolicyOptions extends RenderOptions {
  gatewayNamespace?: string;
  gatewayLabels?: Record<string, string>;
}

/** A NetworkPolicy as YAML/JSON spells it (`from`; the client library's model spells it `_from`). */
export type NetworkPolicyManifest = Omit<V1NetworkPolicy, 'spec'> & {
  spec: Omit<NonNullable<V1NetworkPolicy['spec']>, 'ingress'> & { ingress: Array<Omit<V1NetworkPolicyIngressRule, '_from'> & { from: NonNullable<V1NetworkPolicyIngressRule['_from']> }> };
};

export function renderNetworkPolicy(revision: Revision, opts: NetworkPolicyOptions = {}): NetworkPolicyManifest {
  const served = servingPorts(revision, opts);
  const egress = revision.networkEgress;
  const egressRules: V1NetworkPolicyEgressRule[] = [
    // DNS, wherever the cluster runs it.
    { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
    ...(egress && egress.length > 0 ? [{ to: egress.map((cidr) => ({ ipBlock: { cidr } })) }] : []),
    // A transformer or explainer calls its predictor through the gateways (docs/transformer.md).
    ...(revision.predictorPath !== undefined ? [{ to: [gatewayPeer(opts)] }] : []),
  ];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: {
      name: revision.name,
      namespace: revision.namespace,
      labels: revisionLabels(revision),
      ...(opts.owner ? { ownerReferences: [{ ...opts.owner, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      podSelector: { matchLabels: { [LABEL_REVISION]: revision.name } },
      policyTypes: egress ? ['Ingress', 'Egress'] : ['Ingress'],
      ingress: [
        {
          from: [
            gatewayPeer(opts),
          ],
          ports: [
            ...(served.http !== null ? [{ protocol: 'TCP', port: 'http' }] : []),
            ...(served.grpc !== null ? [{ protocol: 'TCP', port: 'h2c' }] : []),
          ],
        },
      ],
      ...(egress ? { egress: egressRules } : {}),
    },
  };
}

/** The manifest in the client library's model (`from` → `_from`), for its API calls. */
export function clientNetworkPolicy(m: NetworkPolicyManifest): V1NetworkPolicy {
  return { ...m, spec: { ...m.spec, ingress: m.spec.ingress.map(({ from, ...rule }) => ({ ...rule, _from: from })) } };
}

/** Sluice's gateway pods, as a NetworkPolicy peer. */
function gatewayPeer(opts: NetworkPolicyOptions): { namespaceSelector: { matchLabels: Record<string, string> }; podSelector: { matchLabels: Record<string, string> } } {
  return {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': opts.gatewayNamespace ?? DEFAULT_GATEWAY_NAMESPACE } },
    podSelector: { matchLabels: { ...(opts.gatewayLabels ?? DEFAULT_GATEWAY_LABELS) } },
  };
}
