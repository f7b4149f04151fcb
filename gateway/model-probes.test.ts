import { describe, expect, it } from 'vitest';
import { parseModelProbe } from './model-probes.js';

describe('parseModelProbe', () => {
  it('knows the readiness and metadata paths of v1 and v2, with versions, ignoring the query', () => {
    expect(parseModelProbe('/v1/models/iris')).toEqual({ kind: 'v1-ready', model: 'iris', version: null });
    expect(parseModelProbe('/v2/models/iris')).toEqual({ kind: 'v2-metadata', model: 'iris', version: null });
    expect(parseModelProbe('/v2/models/iris/ready?x=1')).toEqual({ kind: 'v2-ready', model: 'iris', version: null });
    expect(parseModelProbe('/v2/models/iris/versions/3')).toEqual({ kind: 'v2-metadata', model: 'iris', version: '3' });
    expect(parseModelProbe('/v2/models/iris/versions/3/ready')).toEqual({ kind: 'v2-ready', model: 'iris', version: '3' });
    expect(parseModelProbe('/v2/models/my%20model/ready')).toEqual({ kind: 'v2-ready', model: 'my model', version: null });
  });

  it('leaves everything else to the runtime', () => {
    for (const p of ['/v1/models/iris:predict', '/v2/models/iris/infer', '/v2/models/iris/versions/3/infer', '/v2/models/iris/stats', '/v2', '/v2/models/%E0/ready', '/v1/models'])
      expect(parseModelProbe(p), p).toBeNull();
  });
});
