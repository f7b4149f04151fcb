import { ValidationError } from './errors.js';

/** Schemes that do not leave the machine or the pod (a local path, a mounted volume): never checked. */
const LOCAL_SCHEMES = new Set(['file', 'pvc']);

/**
 * The one check for URLs Sluice itself calls (storage URIs, logger sinks, JWKS, external checks): with an
 * allowlist (the `egressAllow` setting), a URL that matches none of its entries is refused with a
 * ValidationError naming `field` (e.g. `spec.predictor.model.storageUri`). An empty list allows any URL.
 *
 * Entries: a URL prefix (`https://models.example.com/`, `s3://bucket/models/`, compared on the parsed URL so
 * `https://models.example.com.evil/` does not match `https://models.example.com`), a host name (`jwks.example.com`:
 * any scheme, any path on that host), or `*.example.com` (the host and its subdomains). Local paths, `file://`
 * and `pvc://` are not egress and always pass.
 */
export function checkEgress(url: string, field: string, allow: readonly string[]): void {
  if (allow.length === 0) return;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || LOCAL_SCHEMES.has(scheme)) return;
  if (allow.some((entry) => egressMatches(url, entry))) return;
  throw new ValidationError([{ path: field, message: `${url} is not allowed by egressAllow (${allow.join(', ')})` }], 'egress refused');
}

export function egressMatches(url: string, entry: string): boolean {
  const target = parse(url);
  if (target === null) return false;
  if (entry.startsWith('*.')) {
    const domain = entry.slice(2).toLowerCase();
    return target.host === domain || target.host.endsWith(`.${domain}`);
  }
  if (!entry.includes('://')) return target.host === entry.toLowerCase();
  const prefix = parse(entry);
  if (prefix === null || prefix.scheme !== target.scheme || prefix.host !== target.host || prefix.port !== target.port) return false;
  if (prefix.path === '' || prefix.path === '/') return true;
  // A path prefix matches itself and what lies under it (`/models` matches `/models/x`, not `/models-old`).
  return target.path === prefix.path || target.path.startsWith(prefix.path.endsWith('/') ? prefix.path : `${prefix.path}/`);
}

function parse(url: string): { scheme: string; host: string; port: string; path: string } | null {
  try {
    const u = new URL(url);
    return { scheme: u.protocol.replace(/:$/, ''), host: u.hostname.toLowerCase(), port: u.port, path: u.pathname };
  } catch {
    return null;
  }
}
