import { AsyncResource } from 'node:async_hooks';
import type { ClientHttp2Session, ClientHttp2Stream, ClientSessionRequestOptions, OutgoingHttpHeaders } from 'node:http2';

/**
 * `ClientHttp2Session.request()` on Node 20 binds every request's connect callback with `AsyncResource.bind`,
 * whose `asyncResource` accessor is made of two `util.deprecate()` wrappers (DEP0172); `deprecate` sets each
 * wrapper's prototype to the function it wraps. Measured under grpc-unary load (load-tests/results/grpc.md,
 * issue 19): with Node's bind, about 8 KB of every call's objects survived young-generation collections (10 MB
 * per scavenge, 45 ms pauses, most of it promoted); with the bind below for the duration of `request()`, under
 * 1 KB (0.9 MB per scavenge, 6 to 14 ms pauses). The likely cause: each call's two prototype changes leave
 * old-space objects that point back at the young closures, whose scope holds the bound callback and through it
 * the stream and everything its listeners reach, so a scavenge keeps them all until the next mark-compact.
 *
 * `leanBind` keeps the documented behaviour (the function runs in the resource's async scope, `this` passes
 * through when no `thisArg` is given, `length` is the function's) and `asyncResource` as a plain property,
 * without the deprecation warning. It is swapped in only around the synchronous `request()` call, and only on a
 * Node whose bind builds those wrappers; any other code keeps Node's own bind.
 */
const nodeBind = AsyncResource.prototype.bind;
const NODE_BIND_WRAPS = nodeBind.toString().includes('deprecate(');

function leanBind<F extends (...args: never[]) => unknown>(this: AsyncResource, fn: F, thisArg?: unknown): F {
  if (typeof fn !== 'function') return (nodeBind as (this: AsyncResource, fn: unknown, thisArg?: unknown) => F).call(this, fn, thisArg); // Node's own error for a non-function
  const resource = this;
  const f = fn as unknown as (...a: unknown[]) => unknown;
  const bound =
    thisArg === undefined
      ? function (this: unknown, ...args: unknown[]): unknown {
          return resource.runInAsyncScope(f, this, ...args);
        }
      : resource.runInAsyncScope.bind(resource, f, thisArg);
  Object.defineProperty(bound, 'length', { configurable: true, enumerable: false, writable: false, value: fn.length });
  (bound as unknown as { asyncResource: AsyncResource }).asyncResource = resource;
  return bound as unknown as F;
}

/** `session.request(headers, options)`, without Node 20's per-request deprecation wrappers (see above). */
export function leanRequest(session: ClientHttp2Session, headers: OutgoingHttpHeaders, options: ClientSessionRequestOptions): ClientHttp2Stream {
  if (!NODE_BIND_WRAPS) return session.request(headers, options);
  const proto = AsyncResource.prototype as { bind: unknown };
  proto.bind = leanBind;
  try {
    return session.request(headers, options);
  } finally {
    proto.bind = nodeBind;
  }
}

/** For tests: whether this Node's bind is the one replaced around `request()`, and the replacement. */
export const leanBindForTests = { active: NODE_BIND_WRAPS, bind: leanBind };
