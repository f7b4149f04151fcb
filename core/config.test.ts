import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_REPLICAS_TOTAL, DEFAULT_REPLICA_MEMORY_BUDGET, resolveConfig, resolveServeConfig } from './config.js';

describe('serve configuration: the replica budget', () => {
  it('defaults to 4 replicas per core (at least 8) and half the machine, and a 256 MiB default request', () => {
    const c = resolveServeConfig({});
    expect(c.maxReplicasTotal).toBe(DEFAULT_MAX_REPLICAS_TOTAL);
    expect(DEFAULT_MAX_REPLICAS_TOTAL).toBeGreaterThanOrEqual(8);
    expect(c.replicaMemoryBudget).toBe(DEFAULT_REPLICA_MEMORY_BUDGET);
    expect(c.replicaMemoryDefault).toBe(256 * 2 ** 20);
  });

  it('reads memory as bytes or a Kubernetes quantity', () => {
    expect(resolveServeConfig({ replicaMemoryBudget: '8Gi', replicaMemoryDefault: 1e9 })).toMatchObject({ replicaMemoryBudget: 8 * 2 ** 30, replicaMemoryDefault: 1e9 });
    expect(resolveServeConfig({ replicaMemoryBudget: '512M' }).replicaMemoryBudget).toBe(512e6);
  });

  it('names the setting and the limit in errors', () => {
    expect(() => resolveServeConfig({ replicaMemoryBudget: 'lots' })).toThrow(
      expect.objectContaining({ issues: [{ path: 'serve.replicaMemoryBudget', message: 'must be a positive number of bytes or a quantity such as 8Gi, got "lots"' }] }),
    );
    expect(() => resolveServeConfig({ maxReplicasTotal: 0 })).toThrow(expect.objectContaining({ issues: [expect.objectContaining({ path: 'serve.maxReplicasTotal' })] }));
  });
});

describe('serve configuration: kubernetesAudiences', () => {
  it('reads a comma-separated list (the environment) or a sequence; refuses spaces, too many and too long, naming the setting', () => {
    expect(resolveConfig([{ key: 'kubernetesAudiences', value: 'sluice, https://gw.example.com', source: { kind: 'env' } }]).kubernetesAudiences).toEqual(['sluice', 'https://gw.example.com']);
    expect(resolveServeConfig({}).kubernetesAudiences).toEqual([]);
    expect(() => resolveServeConfig({ kubernetesAudiences: ['sluice gateway'] })).toThrow(
      expect.objectContaining({
        issues: [{ path: 'serve.kubernetesAudiences', message: 'has "sluice gateway": must be up to 16 audiences separated by commas, each printable ASCII without spaces (at most 512 characters)' }],
      }),
    );
    expect(() => resolveServeConfig({ kubernetesAudiences: Array.from({ length: 17 }, (_, i) => `a${i}`) })).toThrow(
      expect.objectContaining({ issues: [expect.objectContaining({ path: 'serve.kubernetesAudiences', message: expect.stringMatching(/^has 17 items: at most 16 /) })] }),
    );
    expect(() => resolveConfig([{ key: 'kubernetesAudiences', value: 'x'.repeat(513), source: { kind: 'env' } }])).toThrow(
      expect.objectContaining({ issues: [{ path: expect.stringMatching(/^SLUICE_KUBERNETES_AUDIENCES=/), message: 'kubernetesAudiences has an item longer than 512 characters (513)' }] }),
    );
  });
});
