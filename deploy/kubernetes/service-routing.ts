/**
 * The data plane's input read back from a stored InferenceService (cluster mode): the controller writes the
 * traffic assignment, the latest created and ready revisions, and each revision's `ready` and `failed` into status, so the gateway builds the
 * same routes from the object as the embedded controller builds from its records (deploy/data-plane-projection.ts).
 * Pure; fields of the wrong type are ignored, as an object another writer touched may carry anything.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { specTagsOf, type ServiceRouting } from '../data-plane-projection.js';
import type { TrafficEntry } from '../traffic.js';

export function serviceRoutingOf(obj: KubernetesObject & { spec?: unknown; status?: unknown }): ServiceRouting {
  const predictorStatus = field(obj.status, 'components', 'predictor');
  const latest = field(predictorStatus, 'latestCreatedRevision');
  const failed = new Map<string, string>();
  const proven = new Set<string>();
  for (const r of arrayOf(field(obj.status, 'revisions'))) {
    const name = field(r, 'name');
    if (typeof name !== 'string') continue;
    const reason = field(r, 'failed');
    if (typeof reason === 'string') failed.set(name, reason);
    if (field(r, 'ready') === true) proven.add(name);
  }
  // The latest ready revision has been ready, whatever else status says.
  const latestReady = field(predictorStatus, 'latestReadyRevision');
  if (typeof latestReady === 'string' && latestReady !== '') proven.add(latestReady);
  return {
    namespace: obj.metadata?.namespace ?? 'default',
    name: obj.metadata?.name ?? '',
    annotations: stringsOf(obj.metadata?.annotations),
    traffic: arrayOf(field(predictorStatus, 'traffic')).flatMap(trafficEntry),
    latestCreated: typeof latest === 'string' && latest !== '' ? latest : null,
    specTags: specTagsOf(field(obj.spec, 'predictor', 'traffic')),
    failed,
    proven,
    ...chainedOf(obj),
  };
}

/** The transformer's and explainer's routing, from `status.components.<component>` (for those the spec has). */
function chainedOf(obj: { spec?: unknown; status?: unknown }): Pick<ServiceRouting, 'components'> {
  const components: NonNullable<ServiceRouting['components']> = {};
  for (const component of ['transformer', 'explainer'] as const) {
    if (field(obj.spec, component) === undefined) continue;
    const st = field(obj.status, 'components', component);
    const latest = field(st, 'latestCreatedRevision');
    components[component] = {
      traffic: arrayOf(field(st, 'traffic')).flatMap(trafficEntry),
      latestCreated: typeof latest === 'string' && latest !== '' ? latest : null,
      specTags: specTagsOf(field(obj.spec, component, 'traffic')),
    };
  }
  return Object.keys(components).length > 0 ? { components } : {};
}

function trafficEntry(t: unknown): TrafficEntry[] {
  const revisionName = field(t, 'revisionName');
  if (typeof revisionName !== 'string' || revisionName === '') return [];
  const percent = Number(field(t, 'percent') ?? 0);
  const tag = field(t, 'tag');
  return [
    {
      revisionName,
      percent: Number.isFinite(percent) ? percent : 0,
      tag: typeof tag === 'string' && tag !== '' ? tag : null,
      latestRevision: field(t, 'latestRevision') === true,
    },
  ];
}

function field(v: unknown, ...path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined), v);
}

function arrayOf(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function stringsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof v !== 'object' || v === null) return out;
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}
