import { describe, expect, it } from 'vitest';
import { badRequestTarget } from './request-target.js';

describe('badRequestTarget', () => {
  it('lets ordinary paths through, dots inside names and dots in the query included', () => {
    for (const url of ['/v1/models/iris:predict', '/v2/models/bert.v1/infer', '/serving/default/echo/a..b', '/x?next=/../y', '/.well-known/x', '/a/.../b', '/a%2fb'])
      expect([url, badRequestTarget(url)]).toEqual([url, null]);
  });

  it('refuses dot segments, plain or percent-encoded in any case, naming the path', () => {
    for (const url of ['/serving/default/echo/../iris/v1/models/iris:predict', '/a/./b', '/a/..', '/a/%2e%2e/b', '/a/%2E%2E/b', '/a/.%2e/b', '/a/%2e./b', '/a/%2e?x=1', '/..'])
      expect(badRequestTarget(url)).toMatch(/^path ".*" has a dot segment/);
    expect(badRequestTarget('/serving/default/echo/../iris?x=1')).toBe(
      'path "/serving/default/echo/../iris" has a dot segment ("." or "..", maybe percent-encoded); send the path without it',
    );
  });

  it('refuses a target that is not an absolute path', () => {
    expect(badRequestTarget('../iris')).toBe('request target "../iris" is not an absolute path');
    expect(badRequestTarget('http://example.com/v1/models/iris')).toMatch(/not an absolute path/);
  });

  it('refuses a malformed percent-encoding in the path (it would reach the router as an exception), not in the query', () => {
    for (const url of ['/v1/models/%E0%A4%A:predict', '/v2/models/iris%/infer', '/v1/models/%zz:predict'])
      expect(badRequestTarget(url)).toMatch(/has a malformed percent-encoding/);
    expect(badRequestTarget('/v1/models/my%20model:predict')).toBeNull();
    expect(badRequestTarget('/v1/models/iris:predict?x=%zz')).toBeNull();
  });
});
