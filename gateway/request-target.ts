/** Dot segments, plain or percent-encoded (any case), that a path must not contain. */
const DOT_SEGMENTS = new Set(['.', '..', '%2e', '.%2e', '%2e.', '%2e%2e']);

/**
 * Why a request target cannot be forwarded, or null when it can. Sluice forwards the path as it came, so a dot
 * segment (`/serving/default/echo/../iris/…`, also encoded as `%2e%2e`) would reach the replica as a path
 * outside the one routed on; it is refused rather than normalised, so what the client sent is what was routed.
 * A target that is not an absolute path (`../x`, `http://…` absolute-form) is refused too.
 *
 * Cost on the common path: one character test and two native substring searches; no allocation.
 */
export function badRequestTarget(url: string): string | null {
  if (url.charCodeAt(0) !== 47 /* / */) return `request target "${url}" is not an absolute path`;
  if (url.indexOf('%') !== -1 && !wellEncoded(url)) return `request target "${url}" has a malformed percent-encoding (a "%" must start a UTF-8 escape such as %20)`;
  if (url.indexOf('/.') === -1 && url.indexOf('/%2') === -1) return null;
  let start = 1;
  for (let i = 1; i <= url.length; i++) {
    const c = i < url.length ? url.charCodeAt(i) : 47;
    const end = c === 63 /* ? */ || c === 35; /* # */
    if (c === 47 || end) {
      const len = i - start;
      if (len > 0 && len <= 6 && DOT_SEGMENTS.has(url.slice(start, i).toLowerCase()))
        return `path "${url.slice(0, url.indexOf('?') === -1 ? url.length : url.indexOf('?'))}" has a dot segment ("." or "..", maybe percent-encoded); send the path without it`;
      if (end) return null;
      start = i + 1;
    }
  }
  return null;
}

/** Whether every `%` escape in the path decodes (the router decodes model names with decodeURIComponent). */
function wellEncoded(url: string): boolean {
  const q = url.indexOf('?');
  try {
    decodeURIComponent(q === -1 ? url : url.slice(0, q));
    return true;
  } catch {
    return false;
  }
}
