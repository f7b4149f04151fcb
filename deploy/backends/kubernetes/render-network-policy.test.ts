import { describe, expect, it } from 'vitest';
import { ManifestValidator } from '../../../test/support/manifest-validator.js';
import { sampleRevision } from '../../../test/support/revision-fixture.js';
import { parseInferenceService } from '../../../api/inferenceservice.js';
import { defaultInferenceService } from '../../defaulting.js';
import { loadCatalogue, builtinCatalogueDir } from '../../runtime-catalogue.js';
import { buildRevision } from '../../revision-builder.js';
import { clientNetworkPolicy, renderNetworkPolicy } from './render-network-policy.js';

describe('renderNetworkPolicy', () => {
  it('lets a transformer with restricted egress reach the gateways (its predictor host)', () => {
    const t = renderNetworkPolicy(sampleRevision({ component: 'transformer', predictorPath: '/serving/default/iris-predictor', networkEgress: [] }));
    expect(t.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(t.spec.egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'sluice-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'sluice-gateway' } } }],
    });
    expect(renderNetworkPolicy(sampleRevision({ networkEgress: [] })).spec.egress).toHaveLength(1); // a predictor: DNS only
  });

  it('lets only the gateways in, on the runtime port; egress unrestricted when the service declares none', async () => {
    const p = renderNetworkPolicy(sampleRevision());
    expect(await new ManifestValidator().validate(p, 'render')).toEqual([]);
    expect(p.spec).toEqual({
      podSelector: { matchLabels: { 'serving.sluice.dev/revision': 'iris-predictor-00001' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'sluice-system' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'sluice-gateway' } } }],
          ports: [{ protocol: 'TCP', port: 'http' }],
        },
      ],
    });
  });

  it('with sluice.dev/egress CIDRs: DNS and those CIDRs only, and a new revision when they change', async () => {
    const catalogue = loadCatalogue([builtinCatalogueDir()]);
    const isvc = (egress: string) =>
      defaultInferenceService(
        parseInferenceService({
          apiVersion: 'serving.kserve.io/v1beta1',
          kind: 'InferenceService',
          metadata: { name: 'iris', annotations: { 'sluice.dev/egress': egress } },
          spec: { predictor: { model: { modelFormat: { name: 'sklearn' }, storageUri: 'gs://b/m' } } },
        }).object,
        catalogue,
      );
    const rev = buildRevision(isvc('10.0.0.0/8, 192.168.5.0/24'), 'predictor', catalogue, { generation: 1, createdAt: 'now' });
    const p = renderNetworkPolicy(rev, { gatewayNamespace: 'edge' });
    expect(await new ManifestValidator().validate(p, 'render')).toEqual([]);
    expect(p.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(p.spec.egress).toEqual([
      { ports: [{ protocol: 'UDP', port: 53 }, { protocol: 'TCP', port: 53 }] },
      { to: [{ ipBlock: { cidr: '10.0.0.0/8' } }, { ipBlock: { cidr: '192.168.5.0/24' } }] },
    ]);
    expect(p.spec.ingress[0]!.from[0]!.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'edge' } });
    const other = buildRevision(isvc('10.0.0.0/8'), 'predictor', catalogue, { generation: 1, createdAt: 'now' });
    expect(other.hash).not.toBe(rev.hash);
    expect(buildRevision(isvc('all'), 'predictor', catalogue, { generation: 1, createdAt: 'now' }).networkEgress).toBeUndefined();
  });

  it('spells `from` as the client library wants it for API calls', () => {
    const c = clientNetworkPolicy(renderNetworkPolicy(sampleRevision()));
    expect(c.spec!.ingress![0]!._from).toHaveLength(1);
    expect('from' in c.spec!.ingress![0]!).toBe(false);
  });
});
