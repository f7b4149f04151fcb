import { describe, expect, it } from 'vitest';
import type { Route } from '../api/route.js';
import { buildRouteTable, matchRoute } from './route-table.js';

const route = (namespace: string, service: string, o: Partial<Route> = {}): Route => ({
  namespace,
  service,
  modelName: service,
  hosts: [],
  targets: [{ revisionKey: `${namespace}/${service}-predictor-00001`, revisionName: `${service}-predictor-00001`, percent: 100, tag: null, latestRevision: true }],
  ...o,
});

const table = buildRouteTable(
  [
    route('team', 'iris'), // same model name in another namespace: the default one wins path routing
    route('default', 'iris', {
      hosts: ['Models.Example.Org'],
      targets: [
        { revisionKey: 'default/iris-predictor-00002', revisionName: 'iris-predictor-00002', percent: 10, tag: 'candidate', latestRevision: true },
        { revisionKey: 'default/iris-predictor-00001', revisionName: 'iris-predictor-00001', percent: 90, tag: null, latestRevision: false },
      ],
    }),
    route('default', 'torch', { modelName: 'mnist' }),
  ],
  'example.com',
  7,
);

const hit = (host: string | undefined, url: string, tagHeader?: string) => {
  const m = matchRoute(table, host, url, tagHeader);
  return m && { key: `${m.route.namespace}/${m.route.service}`, tag: m.tag, path: m.path };
};

describe('buildRouteTable', () => {
  it('indexes every route by key, and freezes the table with its version', () => {
    expect([...table.routes.keys()]).toEqual(['default/iris', 'default/torch', 'team/iris']);
    expect(table.version).toBe(7);
    expect(Object.isFrozen(table)).toBe(true);
  });
});

describe('matchRoute', () => {
  it('finds a service by its host (port and case ignored) and keeps the path as it is', () => {
    expect(hit('iris.default.example.com:8080', '/v1/models/iris:predict?x=1')).toEqual({ key: 'default/iris', tag: null, path: '/v1/models/iris:predict?x=1' });
    expect(hit('IRIS.team.example.com', '/anything')).toEqual({ key: 'team/iris', tag: null, path: '/anything' });
    expect(hit('models.example.org', '/v2/models/iris/infer')?.key).toBe('default/iris');
  });

  it('selects a tag by host prefix (its own tags, latest and prev), and the header wins over the host', () => {
    expect(hit('candidate-iris.default.example.com', '/')?.tag).toBe('candidate');
    expect(hit('latest-iris.default.example.com', '/')?.tag).toBe('latest');
    expect(hit('prev-models.example.org', '/')?.tag).toBe('prev');
    expect(hit('candidate-iris.default.example.com', '/', 'other')?.tag).toBe('other');
    expect(hit('iris.default.example.com', '/', '  ')?.tag).toBeNull(); // a blank header selects nothing
    // A tag prefix only exists for tags the route has.
    expect(hit('nope-iris.default.example.com', '/v9/none')).toBeNull();
  });

  it('routes /serving/<ns>/<name>/… and strips the prefix, with an optional /tags/<tag>/ and the query kept', () => {
    expect(hit(undefined, '/serving/team/iris/v1/models/iris:predict?a=b')).toEqual({ key: 'team/iris', tag: null, path: '/v1/models/iris:predict?a=b' });
    expect(hit(undefined, '/serving/default/iris/tags/candidate/v2/models/iris/infer')).toEqual({
      key: 'default/iris',
      tag: 'candidate',
      path: '/v2/models/iris/infer',
    });
    expect(hit(undefined, '/serving/default/missing/v1/models/x:predict')).toBeNull();
    expect(hit(undefined, '/serving/default')).toBeNull();
  });

  it('routes by model name in v1 and v2 paths, the default namespace winning a name clash', () => {
    expect(hit(undefined, '/v1/models/iris:predict')?.key).toBe('default/iris');
    expect(hit(undefined, '/v1/models/iris')?.key).toBe('default/iris');
    expect(hit(undefined, '/v2/models/iris/versions/1/infer')?.key).toBe('default/iris');
    expect(hit(undefined, '/v2/models/mnist/ready')?.key).toBe('default/torch'); // model name, not service name
    expect(hit(undefined, '/v1/models/torch:predict')).toBeNull();
    expect(hit(undefined, '/v1/models/iris:predict', 'candidate')?.tag).toBe('candidate');
    // A name in the path is percent-decoded before it is looked up.
    expect(hit(undefined, '/v1/models/ir%69s:predict')?.key).toBe('default/iris');
    expect(hit(undefined, '/v2/models/mn%49st/ready')).toBeNull();
    expect(hit(undefined, '/v2/models/mn%69st/ready')?.key).toBe('default/torch');
    // A namespace that sorts before `default` still loses the clash; without `default`, the first by name wins.
    const clash = buildRouteTable([route('zeta', 'iris'), route('default', 'iris'), route('alpha', 'iris')], 'example.com', 1);
    expect(matchRoute(clash, undefined, '/v1/models/iris:predict')?.route.namespace).toBe('default');
    const noDefault = buildRouteTable([route('zeta', 'iris'), route('alpha', 'iris')], 'example.com', 1);
    expect(matchRoute(noDefault, undefined, '/v1/models/iris:predict')?.route.namespace).toBe('alpha');
  });

  it('answers null for an unknown host with no routable path, and for server-level paths', () => {
    expect(hit('other.example.com', '/predict')).toBeNull();
    expect(hit(undefined, '/v2/health/ready')).toBeNull();
    expect(hit(undefined, '/v1/models/iris/extra')).toBeNull();
  });
});

describe('matchRoute: the last lookup kept', () => {
  it('answers a repeated request from the table it is given: a new table, host, path or tag header is looked up again', () => {
    // Strings made at run time, as a parsed request's are (not the same objects as the last call's).
    const url = (name: string) => ['/v1/models/', name, ':predict'].join('');
    const first = matchRoute(table, '10.0.0.1:8080', url('iris'));
    expect(first?.route.namespace).toBe('default');
    expect(matchRoute(table, '10.0.0.1:8080', url('iris'))).toBe(first);
    // The same request against a table without the model, then one where another namespace serves it.
    const without = buildRouteTable([route('default', 'torch', { modelName: 'mnist' })], 'example.com', 8);
    expect(matchRoute(without, '10.0.0.1:8080', url('iris'))).toBeNull();
    const moved = buildRouteTable([route('team', 'iris')], 'example.com', 9);
    expect(matchRoute(moved, '10.0.0.1:8080', url('iris'))?.route.namespace).toBe('team');
    expect(matchRoute(table, '10.0.0.1:8080', url('iris'))?.route.namespace).toBe('default');
    // Host, tag header and path each count.
    expect(matchRoute(table, 'candidate-models.example.org', url('iris'))?.tag).toBe('candidate');
    expect(matchRoute(table, '10.0.0.1:8080', url('iris'), 'candidate')?.tag).toBe('candidate');
    expect(matchRoute(table, '10.0.0.1:8080', url('iris'))?.tag).toBeNull();
    expect(matchRoute(table, '10.0.0.1:8080', url('mnist'))?.route.service).toBe('torch');
    expect(matchRoute(table, '10.0.0.1:8080', url('nope'))).toBeNull();
    expect(matchRoute(table, '10.0.0.1:8080', url('nope'))).toBeNull();
    expect(matchRoute(table, undefined, url('iris'))?.route.namespace).toBe('default');
  });
});

describe('components: transformer and explainer routes (docs/transformer.md)', () => {
  const target = (rev: string) => [{ revisionKey: `default/${rev}`, revisionName: rev, percent: 100, tag: null, latestRevision: true }];
  const chain = buildRouteTable(
    [
      route('default', 'iris', { entry: false, hosts: ['iris-predictor.default.example.com'], targets: target('iris-predictor-00001') }),
      route('default', 'iris', { component: 'transformer', hosts: ['iris-transformer.default.example.com'], targets: target('iris-transformer-00001') }),
      route('default', 'iris', { component: 'explainer', entry: false, hosts: ['iris-explainer.default.example.com'], targets: target('iris-explainer-00001') }),
    ],
    'example.com',
    1,
  );
  const to = (host: string | undefined, url: string) => {
    const m = matchRoute(chain, host, url);
    return m && { component: m.route.component ?? 'predictor', path: m.path };
  };

  it('sends the service URL to the transformer and each component host to its component', () => {
    expect(to('iris.default.example.com', '/v1/models/iris:predict')).toEqual({ component: 'transformer', path: '/v1/models/iris:predict' });
    expect(to(undefined, '/v1/models/iris:predict')?.component).toBe('transformer');
    expect(to(undefined, '/v2/models/iris/infer')?.component).toBe('transformer');
    expect(to(undefined, '/serving/default/iris/v1/models/iris:predict')?.component).toBe('transformer');
    expect(to('iris-predictor.default.example.com', '/v1/models/iris:predict')?.component).toBe('predictor');
    expect(to('prev-iris-predictor.default.example.com', '/v1/models/iris:predict')?.component).toBe('predictor');
    expect(to('iris-transformer.default.example.com', '/v1/models/iris:predict')?.component).toBe('transformer');
    // The address a transformer is given for its predictor: any Host, a path prefix.
    expect(to('127.0.0.1:8080', '/serving/default/iris-predictor/v1/models/iris:predict')).toEqual({ component: 'predictor', path: '/v1/models/iris:predict' });
    expect(chain.byModel.get('iris')?.component).toBe('transformer');
  });

  it('sends v1 :explain on the service URL to the explainer, and nowhere else', () => {
    expect(to('iris.default.example.com', '/v1/models/iris:explain')?.component).toBe('explainer');
    expect(to(undefined, '/v1/models/iris:explain?x=1')?.component).toBe('explainer');
    expect(to(undefined, '/serving/default/iris/v1/models/iris:explain')).toEqual({ component: 'explainer', path: '/v1/models/iris:explain' });
    expect(to('iris-explainer.default.example.com', '/v1/models/iris:explain')?.component).toBe('explainer');
    expect(to('iris-predictor.default.example.com', '/v1/models/iris:explain')?.component).toBe('predictor');
    expect(to('iris.default.example.com', '/v2/models/iris/infer')?.component).toBe('transformer');
  });
});
