import type { Route, RouteTable } from '../api/route.js';
import { routeKey } from '../api/route.js';

/** Builds the immutable lookup table the gateway reads. Called on every route change; never mutated after. */
export function buildRouteTable(routes: Iterable<Route>, domain: string, version: number): RouteTable {
  const all = new Map<string, Route>();
  const byHost = new Map<string, { route: Route; tag: string | null }>();
  const byModel = new Map<string, Route>();
  const byName = new Map<string, Route>();
  const sorted = [...routes].sort((a, b) => routeKey(a.namespace, a.service).localeCompare(routeKey(b.namespace, b.service)));
  for (const r of sorted) {
    const key = routeKey(r.namespace, r.service);
    all.set(key, r);
    byName.set(key, r);
    const base = `${r.service}.${r.namespace}.${domain}`;
    const tags = new Set<string>(['latest', 'prev']);
    for (const t of r.targets) if (t.tag) tags.add(t.tag);
    // Every host also answers with a tag prefix: `<tag>-<host>` selects that tag's revision.
    for (const h of [base, ...r.hosts.map((x) => x.toLowerCase())]) {
      byHost.set(h, { route: r, tag: null });
      for (const tag of tags) byHost.set(`${tag}-${h}`, { route: r, tag });
    }
    // Path routing by model name: the default namespace wins a clash, then the first by name.
    const prev = byModel.get(r.modelName);
    if (!prev || (r.namespace === 'default' && prev.namespace !== 'default')) byModel.set(r.modelName, r);
  }
  return Object.freeze({ version, routes: all, byHost, byModel, byName });
}

export interface RouteMatch {
  route: Route;
  /** Tag selected by host, header or path; null for the weighted split. */
  tag: string | null;
  /** Path to send upstream (the `/serving/<ns>/<name>` prefix removed). */
  path: string;
}

const V1 = /^\/v1\/models\/([^/:]+)(?::[a-z]+)?$/;
const V2 = /^\/v2\/models\/([^/]+)(?:\/.*)?$/;

/**
 * Finds the route for a request: by Host first (`<name>.<ns>.<domain>`, `<tag>-<name>…`), then by path
 * (`/serving/<ns>/<name>/…`, `/v1/models/<name>…`, `/v2/models/<name>/…`). One map lookup in the common case.
 */
export function matchRoute(table: RouteTable, host: string | undefined, url: string, tagHeader?: string): RouteMatch | null {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q);
  const tagFromHeader = tagHeader ? tagHeader.trim() || null : null;
  if (host) {
    const colon = host.lastIndexOf(':');
    const h = (colon > 0 && !host.endsWith(']') ? host.slice(0, colon) : host).toLowerCase();
    const hit = table.byHost.get(h);
    if (hit) return { route: hit.route, tag: tagFromHeader ?? hit.tag, path: url };
  }
  if (path.startsWith('/serving/')) {
    const parts = path.split('/');
    // ['', 'serving', ns, name, ...rest]
    const ns = parts[2];
    const name = parts[3];
    if (ns && name) {
      let tag = tagFromHeader;
      let rest = parts.slice(4);
      // `/serving/<ns>/<name>/tags/<tag>/…` selects a tag by path.
      if (rest[0] === 'tags' && rest[1]) {
        tag = rest[1];
        rest = rest.slice(2);
      }
      const route = table.byName.get(`${ns}/${name}`);
      if (route) return { route, tag, path: `/${rest.join('/')}${query}` };
    }
    return null;
  }
  const m = V1.exec(path) ?? V2.exec(path);
  if (m) {
    const route = table.byModel.get(decodeURIComponent(m[1]!));
    if (route) return { route, tag: tagFromHeader, path: url };
  }
  return null;
}
