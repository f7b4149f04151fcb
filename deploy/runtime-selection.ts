/**
 * Runtime selection, as KServe's controller does it (pkg/apis/serving/v1beta1/predictor_model.go,
 * GetSupportingRuntimes). Pure: a function of the model spec, the namespace and the catalogue.
 *
 * Matched from KServe:
 * - Explicit `runtime`: a namespaced ServingRuntime of that name wins over a ClusterServingRuntime; it must not be
 *   disabled, must list the model format (autoSelect not required when named) and must speak the protocol.
 * - Otherwise candidates: not disabled, not multiModel, list the format with autoSelect: true (a format version
 *   in the model must equal a listed version; a model without version matches any), speak the protocol
 *   (a runtime without protocolVersions speaks any). The protocol is the model's, v1 when unset.
 * - Each list (namespaced, cluster) is pre-ordered by the lowest protocol it speaks (v1 < v2 < grpc-v1 < grpc-v2),
 *   then by name (KServe then uses creation time, which a file catalogue does not have), then stably sorted by
 *   the priority of the first entry for the format's name: a priority beats none, higher beats lower.
 *   All namespaced candidates come before all cluster candidates; the first candidate wins.
 * Sluice additions (documented deviations): when protocolVersion is unset and no runtime serves the format over
 * v1, selection retries with v2 and resolves protocolVersion v2 (so `modelFormat: triton` without a protocol
 * selects kserve-tritonserver v2, as the legacy `triton:` key does in KServe); likewise a named runtime that does
 * not speak v1 resolves to v2 when it speaks v2.
 */
import { ValidationError } from '../core/errors.js';
import type { ModelSpec, ProtocolVersion } from '../api/inferenceservice.js';
import type { RuntimeKind, ServingRuntime } from '../api/servingruntime.js';
import type { RuntimeCatalogue } from './runtime-catalogue.js';

export interface ResolvedRuntime {
  runtime: ServingRuntime;
  kind: RuntimeKind;
  protocolVersion: ProtocolVersion;
}

const PATH = 'spec.predictor.model';
const PROTOCOL_ORDER: readonly ProtocolVersion[] = ['v1', 'v2', 'grpc-v1', 'grpc-v2'];

type ModelRef = Pick<ModelSpec, 'modelFormat' | 'runtime' | 'protocolVersion'>;

export function resolveRuntime(model: ModelRef, namespace: string, catalogue: RuntimeCatalogue): ResolvedRuntime {
  return model.runtime !== undefined
    ? resolveNamed(model, model.runtime, namespace, catalogue)
    : resolveAutoSelected(model, namespace, catalogue);
}

function resolveNamed(model: ModelRef, name: string, namespace: string, catalogue: RuntimeCatalogue): ResolvedRuntime {
  const namespaced = catalogue.runtimes.find((r) => r.metadata.name === name && (r.metadata.namespace ?? 'default') === namespace);
  const cluster = catalogue.clusterRuntimes.find((r) => r.metadata.name === name);
  const runtime = namespaced ?? cluster;
  if (runtime === undefined) {
    const known = [
      ...catalogue.runtimes.filter((r) => (r.metadata.namespace ?? 'default') === namespace).map((r) => r.metadata.name),
      ...catalogue.clusterRuntimes.map((r) => r.metadata.name),
    ];
    fail(`${PATH}.runtime`, `no ServingRuntime in namespace ${namespace} or ClusterServingRuntime named ${JSON.stringify(name)} (known: ${list(known)})`);
  }
  const label = `${runtime.kind} ${JSON.stringify(name)}`;
  if (runtime.spec.disabled) fail(`${PATH}.runtime`, `${label} is disabled`);
  if (runtime.spec.multiModel) fail(`${PATH}.runtime`, `${label} is a multi-model runtime; Sluice serves single-model runtimes only`);
  if (!supportsFormat(runtime, model.modelFormat, true)) {
    fail(`${PATH}.runtime`, `${label} does not support model format ${formatLabel(model.modelFormat)} (it supports: ${list(runtime.spec.supportedModelFormats.map(formatLabel))})`);
  }
  const requested = model.protocolVersion;
  if (requested !== undefined) {
    if (!speaks(runtime, requested)) {
      fail(`${PATH}.protocolVersion`, `${label} does not support protocol ${requested} (it supports: ${protocols(runtime)})`);
    }
    return { runtime, kind: runtime.kind, protocolVersion: requested };
  }
  if (speaks(runtime, 'v1')) return { runtime, kind: runtime.kind, protocolVersion: 'v1' };
  if (speaks(runtime, 'v2')) return { runtime, kind: runtime.kind, protocolVersion: 'v2' };
  return fail(`${PATH}.protocolVersion`, `${label} speaks neither v1 nor v2 REST (it supports: ${protocols(runtime)}); set protocolVersion`);
}

function resolveAutoSelected(model: ModelRef, namespace: string, catalogue: RuntimeCatalogue): ResolvedRuntime {
  const requested = model.protocolVersion;
  const first = supportingRuntimes(model, requested ?? 'v1', namespace, catalogue)[0];
  if (first !== undefined) return { ...first, protocolVersion: requested ?? 'v1' };
  if (requested === undefined) {
    const v2 = supportingRuntimes(model, 'v2', namespace, catalogue)[0];
    if (v2 !== undefined) return { ...v2, protocolVersion: 'v2' };
  }
  return explainNoRuntime(model, requested ?? 'v1', namespace, catalogue);
}

/** Every runtime that could serve the model over `protocol`, best first (KServe's order). */
export function supportingRuntimes(
  model: ModelRef,
  protocol: ProtocolVersion,
  namespace: string,
  catalogue: RuntimeCatalogue,
): { runtime: ServingRuntime; kind: RuntimeKind }[] {
  const explicit = model.runtime !== undefined;
  const pick = (all: ServingRuntime[]): ServingRuntime[] =>
    byPriority(
      preOrder(all).filter(
        (r) => !r.spec.disabled && !r.spec.multiModel && supportsFormat(r, model.modelFormat, explicit) && speaks(r, protocol),
      ),
      model.modelFormat.name,
    );
  const namespaced = pick(catalogue.runtimes.filter((r) => (r.metadata.namespace ?? 'default') === namespace));
  const cluster = pick(catalogue.clusterRuntimes);
  return [...namespaced, ...cluster].map((runtime) => ({ runtime, kind: runtime.kind }));
}

function supportsFormat(runtime: ServingRuntime, format: ModelRef['modelFormat'], explicit: boolean): boolean {
  return runtime.spec.supportedModelFormats.some(
    (f) =>
      (explicit || f.autoSelect) &&
      f.name === format.name &&
      (format.version === undefined || f.version === format.version),
  );
}

function speaks(runtime: ServingRuntime, protocol: ProtocolVersion): boolean {
  return runtime.spec.protocolVersions.length === 0 || runtime.spec.protocolVersions.includes(protocol);
}

function lowestProtocol(runtime: ServingRuntime): number {
  const ranks = runtime.spec.protocolVersions.map((p) => PROTOCOL_ORDER.indexOf(p));
  return ranks.length === 0 ? PROTOCOL_ORDER.length : Math.min(...ranks);
}

function preOrder(runtimes: ServingRuntime[]): ServingRuntime[] {
  return [...runtimes].sort(
    (a, b) => lowestProtocol(a) - lowestProtocol(b) || (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0),
  );
}

/** KServe's GetPriority: the priority of the first supported format with this name (undefined when none). */
function priorityOf(runtime: ServingRuntime, formatName: string): number | undefined {
  return runtime.spec.supportedModelFormats.find((f) => f.name === formatName)?.priority;
}

function byPriority(runtimes: ServingRuntime[], formatName: string): ServingRuntime[] {
  // Array.prototype.sort is stable: runtimes without priority, or with equal priority, keep their order.
  return [...runtimes].sort((a, b) => {
    const pa = priorityOf(a, formatName);
    const pb = priorityOf(b, formatName);
    if (pa === undefined && pb === undefined) return 0;
    if (pa === undefined) return 1;
    if (pb === undefined) return -1;
    return pb - pa;
  });
}

function explainNoRuntime(model: ModelRef, protocol: ProtocolVersion, namespace: string, catalogue: RuntimeCatalogue): never {
  const visible = [
    ...catalogue.runtimes.filter((r) => (r.metadata.namespace ?? 'default') === namespace),
    ...catalogue.clusterRuntimes,
  ].filter((r) => !r.spec.disabled && !r.spec.multiModel);
  const format = model.modelFormat;
  const byName = visible.filter((r) => r.spec.supportedModelFormats.some((f) => f.autoSelect && f.name === format.name));
  if (byName.length === 0) {
    const formats = new Set(visible.flatMap((r) => r.spec.supportedModelFormats.filter((f) => f.autoSelect).map((f) => f.name)));
    fail(`${PATH}.modelFormat.name`, `no runtime auto-selects model format ${JSON.stringify(format.name)} (formats that would work: ${list([...formats].sort())}; or name a runtime)`);
  }
  const byVersion = byName.filter((r) => supportsFormat(r, format, false));
  if (byVersion.length === 0) {
    const versions = byName.flatMap((r) =>
      r.spec.supportedModelFormats.filter((f) => f.autoSelect && f.name === format.name).map((f) => `${f.version ?? '(any)'} (${r.metadata.name})`),
    );
    fail(`${PATH}.modelFormat.version`, `no runtime auto-selects ${format.name} version ${JSON.stringify(format.version)} (versions that would work: ${list(versions)})`);
  }
  const offers = byVersion.map((r) => `${r.metadata.name} (${protocols(r)})`);
  return fail(`${PATH}.protocolVersion`, `no runtime for model format ${formatLabel(format)} supports protocol ${protocol} (runtimes for it: ${offers.join(', ')})`);
}

function protocols(r: ServingRuntime): string {
  return r.spec.protocolVersions.length === 0 ? 'any' : r.spec.protocolVersions.join(', ');
}

function formatLabel(f: { name: string; version?: string | undefined }): string {
  return f.version === undefined ? f.name : `${f.name}:${f.version}`;
}

function list(items: readonly string[]): string {
  return items.length === 0 ? 'none' : [...new Set(items)].join(', ');
}

function fail(path: string, message: string): never {
  throw new ValidationError([{ path, message }], 'cannot resolve the runtime');
}
