import { describe, expect, it } from 'vitest';
import { activatorInPath } from './path-mode.js';
import { readinessPathFor } from './readiness-path.js';

describe('activatorInPath (target burst capacity)', () => {
  it('stays in the path at zero, while requests are held, and while spare burst capacity is negative', () => {
    expect(activatorInPath({ activeReplicas: 0, held: 0, excessBurstCapacity: 100 })).toBe(true);
    expect(activatorInPath({ activeReplicas: 2, held: 1, excessBurstCapacity: 100 })).toBe(true);
    expect(activatorInPath({ activeReplicas: 2, held: 0, excessBurstCapacity: -1 })).toBe(true);
  });

  it('leaves the path when replicas can absorb a burst (excess ≥ 0, including target burst capacity 0)', () => {
    expect(activatorInPath({ activeReplicas: 1, held: 0, excessBurstCapacity: 0 })).toBe(false);
    expect(activatorInPath({ activeReplicas: 3, held: 0, excessBurstCapacity: 42 })).toBe(false);
  });
});

describe('readinessPathFor', () => {
  it('uses the protocol’s readiness path, and /ping for TorchServe', () => {
    expect(readinessPathFor({ runtimeName: 'kserve-mlserver', protocolVersion: 'v2', modelName: 'iris' })).toBe('/v2/health/ready');
    expect(readinessPathFor({ runtimeName: 'kserve-sklearnserver', protocolVersion: 'v1', modelName: 'iris' })).toBe('/v1/models/iris');
    expect(readinessPathFor({ runtimeName: 'kserve-torchserve', protocolVersion: 'v1', modelName: 'mnist' })).toBe('/ping');
    expect(readinessPathFor({ runtimeName: 'kserve-tritonserver', protocolVersion: 'grpc-v2', modelName: 'x' })).toBe('/v2/health/ready');
  });
});
