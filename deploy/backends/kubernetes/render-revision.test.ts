import { describe, expect, it } from 'vitest';
import { ManifestValidator } from '../../../test/support/manifest-validator.js';
import { sampleRevision } from '../../../test/support/revision-fixture.js';
import { renderDeployment, renderRevision, renderService, servingPorts } from './render-revision.js';

describe('renderRevision', () => {
  it('points a transformer\'s --predictor_host at the gateway Service plus its predictor path', () => {
    const t = sampleRevision({
      component: 'transformer',
      predictorPath: '/serving/default/iris-predictor',
      container: { ...sampleRevision().container, args: ['--model_name', 'iris', '--predictor_host', '{{predictorHost}}', '--http_port', '8080'] },
    });
    const args = (opts = {}) => renderDeployment(t, opts).spec!.template.spec!.containers[0]!.args;
    expect(args()).toEqual(['--model_name', 'iris', '--predictor_host', 'sluice-gateway.sluice-system.svc/serving/default/iris-predictor', '--http_port', '8080']);
    expect(args({ gatewayAddress: 'gw.ops.svc:8080' })).toContain('gw.ops.svc:8080/serving/default/iris-predictor');
  });

  it('renders a Deployment, a Service and a NetworkPolicy that validate against the Kubernetes schemas', async () => {
    const v = new ManifestValidator();
    const objs = renderRevision(sampleRevision({ gpus: { 'nvidia.com/gpu': 1 } }));
    expect(objs.map((o) => (o as { kind: string }).kind)).toEqual(['Deployment', 'Service', 'NetworkPolicy']);
    for (const o of objs) expect(await v.validate(o, 'render')).toEqual([]);
    for (const proto of ['v1', 'grpc-v2'] as const) {
      const r = sampleRevision({ runtime: { name: 'x', kind: 'custom', protocolVersion: proto }, storageUri: 'pvc://models/iris' });
      for (const o of renderRevision(r)) expect(await v.validate(o, 'render')).toEqual([]);
    }
  });

  it('wires the model in KServe style: a storage-initializer init container and a shared emptyDir at /mnt/models', () => {
    const d = renderDeployment(sampleRevision());
    const pod = d.spec!.template.spec!;
    expect(pod.initContainers).toEqual([
      expect.objectContaining({ name: 'storage-initializer', image: expect.stringMatching(/^kserve\/storage-initializer:/), args: ['gs://kfserving-examples/models/sklearn/1.0/model', '/mnt/models'] }),
    ]);
    expect(pod.volumes).toEqual([{ name: 'kserve-provision-location', emptyDir: {} }]);
    expect(pod.containers[0]!.volumeMounts).toEqual([{ name: 'kserve-provision-location', mountPath: '/mnt/models', readOnly: true }]);
    const pvc = renderDeployment(sampleRevision({ storageUri: 'pvc://models/sklearn/iris' })).spec!.template.spec!;
    expect(pvc.initContainers).toBeUndefined();
    expect(pvc.volumes).toEqual([{ name: 'kserve-provision-location', persistentVolumeClaim: { claimName: 'models', readOnly: true } }]);
    expect(pvc.containers[0]!.volumeMounts![0]!.subPath).toBe('sklearn/iris');
    expect(renderDeployment(sampleRevision({ storageUri: null })).spec!.template.spec!.volumes).toBeUndefined();
  });

  it('starts at its initial scale and carries GPUs, probes, grace period, labels and pod-level fields', () => {
    const d = renderDeployment(sampleRevision({ gpus: { 'nvidia.com/gpu': 2 } }));
    // Knative's default initial scale is 1; an explicit 0 starts at zero; min/max clamp it.
    expect(d.spec!.replicas).toBe(1);
    const base = sampleRevision().autoscaling;
    expect(renderDeployment(sampleRevision({ autoscaling: { ...base, initialScale: 0 } })).spec!.replicas).toBe(0);
    expect(renderDeployment(sampleRevision({ autoscaling: { ...base, initialScale: 9 } })).spec!.replicas).toBe(3);
    expect(renderDeployment(sampleRevision({ autoscaling: { ...base, initialScale: 0, minReplicas: 2 } })).spec!.replicas).toBe(2);
    // Every later revision starts one replica to prove itself ready before traffic moves to it.
    expect(renderDeployment(sampleRevision({ generation: 2, name: 'iris-predictor-00002', autoscaling: { ...base, initialScale: 0 } })).spec!.replicas).toBe(1);
    const carried = JSON.parse(d.metadata!.annotations!['serving.sluice.dev/revision-spec']!);
    expect(carried.name).toBe('iris-predictor-00001');
    const c = d.spec!.template.spec!.containers[0]!;
    expect(c.image).toBe('kserve/sklearnserver:v0.15.2');
    expect(c.resources!.limits).toEqual({ cpu: '1', memory: '2Gi', 'nvidia.com/gpu': '2' });
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/v2/health/ready', port: 8080 });
    expect(c.env).toEqual([{ name: 'PROTOCOL', value: 'v2' }]);
    expect(d.spec!.template.spec!.terminationGracePeriodSeconds).toBe(60);
    expect(d.spec!.template.spec!.nodeSelector).toEqual({ pool: 'cpu' });
    expect(d.spec!.template.metadata!.labels).toEqual({
      team: 'ml',
      'serving.kserve.io/inferenceservice': 'iris',
      'serving.sluice.dev/revision': 'iris-predictor-00001',
      component: 'predictor',
      'app.kubernetes.io/managed-by': 'sluice',
    });
    const v1 = renderDeployment(sampleRevision({ runtime: { name: 'x', kind: 'custom', protocolVersion: 'v1' }, runtimeModelName: 'iris-model' }));
    expect(v1.spec!.template.spec!.containers[0]!.readinessProbe!.httpGet!.path).toBe('/v1/models/iris-model');
    const svc = renderService(sampleRevision());
    expect(svc.spec!.selector).toEqual({ 'serving.sluice.dev/revision': 'iris-predictor-00001' });
    expect(svc.metadata!.labels!['serving.sluice.dev/container-concurrency']).toBe('4');
  });

  it("hardens every container it creates, and the serving container's own securityContext adds to it", async () => {
    const d = renderDeployment(sampleRevision());
    const pod = d.spec!.template.spec!;
    expect(pod.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' } });
    for (const c of [...pod.containers, ...pod.initContainers!]) {
      expect(c.securityContext, c.name).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
    }
    const base = sampleRevision();
    const own = renderDeployment(
      sampleRevision({
        spec: {
          ...(base.spec as object),
          securityContext: { runAsUser: 1000, fsGroup: 1000 },
          model: { modelFormat: { name: 'sklearn' }, securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true } },
        },
      }),
    ).spec!.template.spec!;
    expect(own.securityContext).toEqual({ seccompProfile: { type: 'RuntimeDefault' }, runAsUser: 1000, fsGroup: 1000 });
    expect(own.containers[0]!.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
    });
    const custom = renderDeployment(
      sampleRevision({ spec: { containers: [{ name: 'sidecar' }, { name: 'kserve-container', securityContext: { capabilities: { add: ['NET_BIND_SERVICE'] } } }] } }),
    ).spec!.template.spec!;
    expect(custom.containers[0]!.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { add: ['NET_BIND_SERVICE'] } });
    expect(await new ManifestValidator().validate(renderRevision(sampleRevision())[0], 'render')).toEqual([]);
  });

  it('is pure: the same revision renders the same objects', () => {
    expect(JSON.stringify(renderRevision(sampleRevision()))).toBe(JSON.stringify(renderRevision(sampleRevision())));
  });
});

describe('servingPorts (the container spec\'s ports, as KServe reads them)', () => {
  const base = sampleRevision();
  const rev = (protocolVersion: 'v1' | 'v2' | 'grpc-v2', ports?: Array<{ name?: string; containerPort: number }>) =>
    sampleRevision({ runtime: { ...base.runtime, protocolVersion }, container: { ...base.container, ...(ports ? { ports } : {}) } });

  it('HTTP only by default; a declared h2c/grpc port is served beside it; a gRPC-only revision gets 8081', () => {
    expect(servingPorts(rev('v2'))).toEqual({ http: 8080, grpc: null });
    expect(servingPorts(rev('v2', [{ name: 'h2c', containerPort: 8081 }]))).toEqual({ http: 8080, grpc: 8081 });
    expect(servingPorts(rev('v1', [{ name: 'grpc-infer', containerPort: 9000 }, { name: 'http1', containerPort: 5000 }]))).toEqual({ http: 5000, grpc: 9000 });
    expect(servingPorts(rev('grpc-v2'))).toEqual({ http: null, grpc: 8081 });
    // A port with another name is not served (api/inactive-fields.ts lists it).
    expect(servingPorts(rev('v2', [{ name: 'metrics', containerPort: 8082 }]))).toEqual({ http: 8080, grpc: null });
  });

  it('the Deployment, Service and NetworkPolicy carry both ports when both are served', () => {
    const [d, s, np] = renderRevision(rev('v2', [{ name: 'h2c', containerPort: 8081 }])) as Array<Record<string, any>>;
    expect(d!['spec'].template.spec.containers[0].ports.map((p: { name: string; containerPort: number }) => `${p.name}:${p.containerPort}`)).toEqual(['http:8080', 'h2c:8081']);
    expect(s!['spec'].ports.map((p: { name: string; port: number }) => `${p.name}:${p.port}`)).toEqual(['http:80', 'h2c:81']);
    expect(np!['spec'].ingress[0].ports.map((p: { port: string }) => p.port)).toEqual(['http', 'h2c']);
  });
});
