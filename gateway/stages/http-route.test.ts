import { describe, expect, it } from 'vitest';
import { httpRoute } from './http-route.js';

describe('httpRoute (span names and http.route)', () => {
  it('templates the inference paths of the v1 and v2 protocols, without the query', () => {
    expect(httpRoute('/v1/models/iris:predict')).toBe('/v1/models/{model}:predict');
    expect(httpRoute('/v1/models/iris:explain?x=1')).toBe('/v1/models/{model}:explain');
    expect(httpRoute('/v1/models/iris')).toBe('/v1/models/{model}');
    expect(httpRoute('/v2/models/iris/infer')).toBe('/v2/models/{model}/infer');
    expect(httpRoute('/v2/models/iris/versions/3/infer')).toBe('/v2/models/{model}/versions/{version}/infer');
    expect(httpRoute('/v2/models/iris/ready')).toBe('/v2/models/{model}/ready');
    expect(httpRoute('/v2/models/iris')).toBe('/v2/models/{model}');
  });

  it('has no route for other paths (the span is named by the method alone)', () => {
    expect(httpRoute('/custom/path/123')).toBeNull();
    expect(httpRoute('/v1/models/a/b')).toBeNull();
  });
});
