/**
 * The HTTP face of the test API server: Kubernetes REST paths, discovery, CRUD, status and scale
 * subresources, patches, list and watch. Everything else answers a Kubernetes `Status`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import type { Clock } from '../../core/clock.js';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from './patch.js';
import { apiGroupDoc, apiGroupList, apiResourceList, apiVersionOf, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, SelectorError, selectorString } from './selectors.js';
import { errors, StatusError } from './status.js';
import type { DeleteOptions, ListFilter, ObjectStore } from './store.js';
import { isObject, type KubeObject } from './types.js';
import { WatchStream } from './watch-stream.js';
import type { TestReviews } from './reviews.js';

export interface ApiServerOptions {
  token: string;
  bookmarkIntervalMs: number;
  maxBodyBytes: number;
  maxWatchBufferedBytes: number;
  /** Bound on concurrently open watches; more answer 429. */
  maxWatches: number;
  /** TokenReview and SubjectAccessReview answers (reviews.ts). */
  reviews: TestReviews;
}

interface Route {
  type: ResourceType;
  namespace: string | undefined;
  name: string | undefined;
  sub: 'status' | 'scale' | undefined;
  watch: boolean;
}

export class ApiHttpServer {
  readonly server: Server;
  private readonly watches = new Set<WatchStream>();
  /** The last requests served (method and path with query), oldest first; bounded. */
  private readonly log: { method: string; path: string }[] = [];
  private static readonly LOG_SIZE = 2000;

  constructor(
    private readonly store: ObjectStore,
    private readonly clock: Clock,
    private readonly opts: ApiServerOptions,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.fail(res, err));
    });
  }

  requestLog(): { method: string; path: string }[] {
    return [...this.log];
  }

  openWatches(): number {
    return this.watches.size;
  }

  /** Test hook: every open watch gets an ERROR 410 event and ends, and the history is forgotten. */
  expireWatches(): void {
    this.store.compact();
    for (const w of [...this.watches]) w.expire('too old resource version: forced by test');
  }

  /** Test hook: breaks every open watch connection without a final event. */
  dropWatches(): void {
    for (const w of [...this.watches]) w.destroy();
  }

  closeWatches(): void {
    for (const w of [...this.watches]) w.end();
  }

  private fail(res: ServerResponse, err: unknown): void {
    const e =
      err instanceof StatusError
        ? err
        : err instanceof SelectorError || err instanceof PatchError || err instanceof SyntaxError
          ? errors.badRequest(err.message)
          : new StatusError(500, 'InternalError', err instanceof Error ? err.message : String(err));
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.json(res, e.code, e.toStatus());
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private async readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.opts.maxBodyBytes) throw new StatusError(413, 'RequestEntityTooLarge', 'request entity too large');
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() === '') return {};
    const ct = (req.headers['content-type'] ?? 'application/json').split(';')[0]!.trim();
    if (ct.includes('yaml')) return parseYaml(text) as unknown;
    return JSON.parse(text) as unknown;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.log.push({ method: req.method ?? 'GET', path: req.url ?? '/' });
    if (this.log.length > ApiHttpServer.LOG_SIZE) this.log.shift();
    if (req.headers.authorization !== `Bearer ${this.opts.token}`) throw errors.unauthorized();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const segs = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const registry = this.store.registry;

    if (method === 'GET') {
      const p = url.pathname.replace(/\/$/, '');
      if (p === '/version') return this.json(res, 200, { major: '1', minor: '34', gitVersion: 'v1.34.0-sluice-test', platform: 'linux/amd64' });
      if (p === '/healthz' || p === '/readyz' || p === '/livez') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      if (p === '/api') return this.json(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '127.0.0.1' }] });
      if (p === '/apis') return this.json(res, 200, apiGroupList(registry));
      if (segs[0] === 'api' && segs.length === 2) {
        const doc = apiResourceList(registry, '', segs[1]!);
        if (doc) return this.json(res, 200, doc);
      }
      if (segs[0] === 'apis' && segs.length === 2) {
        const doc = apiGroupDoc(registry, segs[1]!);
        if (doc) return this.json(res, 200, doc);
      }
      if (segs[0] === 'apis' && segs.length === 3) {
        const doc = apiResourceList(registry, segs[1]!, segs[2]!);
        if (doc) return this.json(res, 200, doc);
      }
    }

    // TokenReview / SubjectAccessReview: create-only, answered from the test's tokens and rules, never stored.
    if (method === 'POST' && segs.length === 4 && segs[0] === 'apis' && segs[2] === 'v1') {
      if (segs[1] === 'authentication.k8s.io' && segs[3] === 'tokenreviews') return this.json(res, 201, this.opts.reviews.tokenReview(await this.readBody(req)));
      if (segs[1] === 'authorization.k8s.io' && segs[3] === 'subjectaccessreviews') return this.json(res, 201, this.opts.reviews.accessReview(await this.readBody(req)));
    }
    const route = this.route(segs);
    if (!route) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const q = url.searchParams;
    const { type: t, namespace: ns, name, sub } = route;
    // Only creation honours dryRun; anything else would silently persist, so it fails loudly instead.
    if (q.has('dryRun') && !(method === 'POST' && name === undefined)) throw errors.badRequest('dryRun is only supported on create by the test API server');

    if (name === undefined) {
      if (method === 'GET') {
        const filter = this.filter(route, q);
        if (route.watch || q.get('watch') === 'true' || q.get('watch') === '1') return this.watch(req, res, t, filter, q);
        const list = this.store.list(t, filter);
        return this.json(res, 200, {
          apiVersion: apiVersionOf(t),
          kind: `${t.kind}List`,
          metadata: { resourceVersion: list.resourceVersion },
          items: list.items,
        });
      }
      if (method === 'POST') {
        const body = await this.readBody(req);
        if (!isObject(body)) throw errors.badRequest('body must be an object');
        if (q.get('dryRun') === 'All') return this.json(res, 201, body);
        return this.json(res, 201, this.store.create(t, ns, body as KubeObject));
      }
      if (method === 'DELETE') {
        const filter = this.filter(route, q);
        const { items } = this.store.list(t, filter);
        const deleted = items.map((o) => this.store.delete(t, o.metadata.namespace, o.metadata.name!).object);
        return this.json(res, 200, { apiVersion: apiVersionOf(t), kind: `${t.kind}List`, metadata: { resourceVersion: String(this.store.currentResourceVersion()) }, items: deleted });
      }
      throw errors.methodNotAllowed(`${method} is not supported on a collection`);
    }

    if (sub === 'scale') return this.scale(req, res, method, t, ns, name);
    const part = sub === 'status' ? 'status' : 'main';
    switch (method) {
      case 'GET':
        return this.json(res, 200, this.store.get(t, ns, name));
      case 'PUT': {
        const body = await this.readBody(req);
        if (!isObject(body)) throw errors.badRequest('body must be an object');
        return this.json(res, 200, this.store.update(t, ns, name, body as KubeObject, part));
      }
      case 'PATCH': {
        const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
        const body = await this.readBody(req);
        const current = this.store.tryGet(t, ns, name);
        if (!current) {
          if (ct === 'application/apply-patch+yaml' && part === 'main' && isObject(body)) {
            return this.json(res, 201, this.store.create(t, ns, body as KubeObject));
          }
          throw errors.notFound(t, name);
        }
        const patched = this.applyPatch(ct, current, body);
        return this.json(res, 200, this.store.update(t, ns, name, patched, part));
      }
      case 'DELETE': {
        const body = await this.readBody(req);
        const opts = this.deleteOptions(body, q);
        const out = this.store.delete(t, ns, name, opts);
        if (out.removed && t.kind !== 'Pod') {
          return this.json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, group: t.group, kind: t.plural, uid: out.object.metadata.uid } });
        }
        return this.json(res, out.removed ? 200 : 202, out.object);
      }
      default:
        throw errors.methodNotAllowed(`${method} is not supported`);
    }
  }

  private route(segs: string[]): Route | null {
    let rest: string[];
    let group: string;
    let version: string;
    if (segs[0] === 'api' && segs.length >= 3) {
      group = '';
      version = segs[1]!;
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 4) {
      group = segs[1]!;
      version = segs[2]!;
      rest = segs.slice(3);
    } else return null;
    let watch = false;
    if (rest[0] === 'watch') {
      watch = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    const nsSub = rest.length === 3 && rest[0] === 'namespaces' && (rest[2] === 'status' || rest[2] === 'finalize');
    if (rest[0] === 'namespaces' && rest.length >= 3 && !nsSub) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, sub, extra] = rest;
    if (plural === undefined || extra !== undefined) return null;
    const type = this.store.registry.find(group, version, plural);
    if (!type) return null;
    if (type.namespaced === false && namespace !== undefined) return null;
    if (sub !== undefined && !((sub === 'status' && type.status) || (sub === 'scale' && type.scale))) return null;
    return { type, namespace, name, sub: sub as Route['sub'], watch };
  }

  private filter(route: Route, q: URLSearchParams): ListFilter {
    const filter: ListFilter = {};
    if (route.namespace !== undefined) filter.namespace = route.namespace;
    const ls = q.get('labelSelector');
    if (ls) filter.labels = parseLabelSelector(ls);
    const fs = q.get('fieldSelector');
    if (fs) filter.fields = parseFieldSelector(fs);
    return filter;
  }

  private watch(req: IncomingMessage, res: ServerResponse, t: ResourceType, filter: ListFilter, q: URLSearchParams): void {
    if (this.watches.size >= this.opts.maxWatches) throw new StatusError(429, 'TooManyRequests', 'too many open watches');
    const timeout = q.get('timeoutSeconds');
    const w = new WatchStream(
      this.store,
      res,
      this.clock,
      {
        type: t,
        filter,
        resourceVersion: q.get('resourceVersion') ?? '',
        bookmarks: q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1',
        bookmarkIntervalMs: this.opts.bookmarkIntervalMs,
        timeoutMs: timeout ? Number(timeout) * 1000 : null,
        maxBufferedBytes: this.opts.maxWatchBufferedBytes,
      },
      (closed) => this.watches.delete(closed),
    );
    this.watches.add(w);
    req.on('close', () => w.end());
    w.start();
  }

  private applyPatch(contentType: string, current: KubeObject, body: unknown): KubeObject {
    let out: unknown;
    switch (contentType) {
      case 'application/json-patch+json':
        out = jsonPatch(current, body);
        break;
      case 'application/merge-patch+json':
        out = mergePatch(current, body);
        break;
      case 'application/strategic-merge-patch+json':
      case 'application/apply-patch+yaml':
        out = strategicMergePatch(current, body);
        break;
      default:
        throw errors.unsupportedMediaType(contentType);
    }
    if (!isObject(out)) throw errors.badRequest('patch produced a non-object');
    // The result carries the current resourceVersion unless the patch itself names one (then it is conditional).
    return out as KubeObject;
  }

  private deleteOptions(body: unknown, q: URLSearchParams): DeleteOptions {
    const opts: DeleteOptions = {};
    const b = isObject(body) ? body : {};
    const grace = q.get('gracePeriodSeconds') ?? b['gracePeriodSeconds'];
    if (grace !== undefined && grace !== null) opts.gracePeriodSeconds = Number(grace);
    const policy = q.get('propagationPolicy') ?? b['propagationPolicy'];
    if (policy === 'Background' || policy === 'Foreground' || policy === 'Orphan') opts.propagationPolicy = policy;
    if (isObject(b['preconditions'])) opts.preconditions = b['preconditions'] as DeleteOptions['preconditions'];
    return opts;
  }

  /** GET/PUT/PATCH of the autoscaling/v1 Scale subresource, backed by spec.replicas and status.replicas. */
  private async scale(req: IncomingMessage, res: ServerResponse, method: string, t: ResourceType, ns: string | undefined, name: string): Promise<void> {
    const current = this.store.get(t, ns, name);
    const toScale = (o: KubeObject): KubeObject => {
      const spec = isObject(o['spec']) ? o['spec'] : {};
      const status = isObject(o['status']) ? o['status'] : {};
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: {
          name: o.metadata.name,
          namespace: o.metadata.namespace,
          uid: o.metadata.uid,
          resourceVersion: o.metadata.resourceVersion,
          creationTimestamp: o.metadata.creationTimestamp,
        },
        spec: { replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : 0 },
        status: { replicas: typeof status['replicas'] === 'number' ? status['replicas'] : 0, selector: selectorString(spec['selector']) },
      };
    };
    if (method === 'GET') return this.json(res, 200, toScale(current));
    if (method !== 'PUT' && method !== 'PATCH') throw errors.methodNotAllowed(`${method} is not supported on scale`);
    const body = await this.readBody(req);
    let scale: unknown = body;
    if (method === 'PATCH') {
      const ct = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
      scale = this.applyPatch(ct, toScale(current), body);
    }
    if (!isObject(scale)) throw errors.badRequest('body must be a Scale');
    const spec = isObject(scale['spec']) ? scale['spec'] : {};
    const replicas = spec['replicas'];
    if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
      throw errors.invalid(t, name, [{ field: 'spec.replicas', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0` }]);
    }
    const meta = isObject(scale['metadata']) ? scale['metadata'] : {};
    const next = { ...current, spec: { ...(isObject(current['spec']) ? current['spec'] : {}), replicas } } as KubeObject;
    next.metadata = { ...current.metadata };
    if (typeof meta['resourceVersion'] === 'string' && meta['resourceVersion'] !== '') next.metadata.resourceVersion = meta['resourceVersion'];
    else delete next.metadata.resourceVersion;
    return this.json(res, 200, toScale(this.store.update(t, ns, name, next)));
  }
}
