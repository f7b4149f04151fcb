/**
 * The CLI's commands that need a spec or the admin API. Each loads what it needs when it runs (dynamic imports),
 * so `sluice get` does not load the schemas, the runtime catalogue or the simulator.
 */
import { readFile } from 'node:fs/promises';
import type { ParsedObject } from '../api/manifests.js';
import { ValidationError } from '../core/errors.js';
import type { RuntimeCatalogue } from '../deploy/runtime-catalogue.js';
import { LIST_PAGE_SIZE } from './admin-client.js';
import { adminClientFor, type AdminTarget } from './admin-credentials.js';
import { checkFormat, printObjects } from './output.js';
import { isvcTable } from './isvc-table.js';

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

async function readInput(file: string): Promise<string> {
  if (file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/**
 * `sluice apply -f FILE`: validates every document; with --dry-run prints the InferenceServices after defaulting
 * (runtime and protocolVersion resolved) without contacting a server, else sends every document to the admin API
 * in dependency order: ClusterServingRuntimes, ServingRuntimes and LocalLaunchRecipes first, then the
 * InferenceServices (which may name those runtimes). Warnings (fields accepted but not active yet, odd
 * annotations) go to stderr as `Warning: …`, as kubectl prints them; they do not fail the command.
 */
export async function applyCommand(
  io: Io,
  o: AdminTarget & { file: string; dryRun?: boolean; output?: string; runtimes?: string[] },
): Promise<void> {
  const format = o.output === undefined ? null : checkFormat(o.output, false);
  const { parseManifests } = await import('../api/manifests.js');
  const objs = parseManifests(await readInput(o.file), o.file);
  const catalogue = await catalogueFor(objs, o.runtimes);
  const services = objs.flatMap((x) => (x.kind === 'InferenceService' ? [x] : []));
  const runtimeDocs = objs.flatMap((x) => (x.kind === 'InferenceService' ? [] : [x]));
  if (services.length === 0 && (o.dryRun || runtimeDocs.length === 0)) throw new Error(`${o.file}: no InferenceService found`);
  if (o.dryRun) {
    const { defaultInferenceService } = await import('../deploy/defaulting.js');
    // No server to ask: the warnings it would send (same parser), printed as kubectl prints a server's.
    for (const s of services) for (const w of s.warnings) io.err(`Warning: ${w}\n`);
    const defaulted = services.map((s) => {
      try {
        return defaultInferenceService(s.object, catalogue);
      } catch (err) {
        if (err instanceof ValidationError)
          throw new ValidationError(err.issues, `${o.file}: document ${s.index}: InferenceService ${s.object.metadata.name}`);
        throw err;
      }
    });
    io.out(printObjects(defaulted, format ?? 'yaml', defaulted.length > 1));
    return;
  }
  const client = adminClientFor(o);
  const results: unknown[] = [];
  const said = (what: string, status: number): void => {
    if (!format) io.out(`${what} ${status === 201 ? 'created' : 'configured'}\n`);
  };
  const { SLUICE_API_VERSION } = await import('../api/servingruntime.js');
  for (const x of [...runtimeDocs].sort((a, b) => RUNTIME_ORDER[a.kind] - RUNTIME_ORDER[b.kind])) {
    const doc = runtimeDocument(x, SLUICE_API_VERSION);
    const r = await client.putRuntime(x.kind, doc.metadata.namespace ?? null, doc.metadata.name, doc);
    results.push(r.object);
    said(`${x.kind.toLowerCase()}.${x.kind === 'LocalLaunchRecipe' ? 'sluice.dev' : 'serving.kserve.io'}/${doc.metadata.name}`, r.status);
  }
  for (const s of services) {
    const ns = s.object.metadata.namespace ?? 'default';
    const r = await client.put(ns, s.object.metadata.name, s.object);
    for (const w of r.warnings) io.err(`Warning: ${w}\n`);
    results.push(r.object);
    said(`inferenceservice.serving.kserve.io/${s.object.metadata.name}`, r.status);
  }
  if (format) io.out(printObjects(results, format, results.length > 1));
}

/** Dependency order of catalogue documents: runtimes, then the recipes that launch them locally. */
const RUNTIME_ORDER: Record<Exclude<ParsedObject['kind'], 'InferenceService'>, number> = {
  ClusterServingRuntime: 0,
  ServingRuntime: 1,
  LocalLaunchRecipe: 2,
};

/** A parsed catalogue document as the admin API takes it. */
function runtimeDocument(x: Exclude<ParsedObject, { kind: 'InferenceService' }>, recipeApiVersion: string): { metadata: { name: string; namespace?: string } } & Record<string, unknown> {
  if (x.kind !== 'LocalLaunchRecipe') return x.object;
  return { apiVersion: recipeApiVersion, kind: 'LocalLaunchRecipe', metadata: { name: x.runtime }, spec: x.recipe };
}

/** The built-in catalogue, plus extra folders, plus runtimes defined in the same file (they win). */
async function catalogueFor(objs: ParsedObject[], runtimes: string[] | undefined): Promise<RuntimeCatalogue> {
  const { builtinCatalogueDir, emptyCatalogue, loadCatalogue, mergeCatalogue } = await import('../deploy/runtime-catalogue.js');
  const local = emptyCatalogue();
  for (const x of objs) {
    if (x.kind === 'LocalLaunchRecipe') local.localRecipes.set(x.runtime, x.recipe);
    else if (x.kind !== 'InferenceService') {
      if (x.object.kind === 'ClusterServingRuntime') local.clusterRuntimes.push(x.object);
      else local.runtimes.push(x.object);
    }
  }
  return mergeCatalogue(loadCatalogue([builtinCatalogueDir(), ...(runtimes ?? [])]), local);
}

const RESOURCE_NAMES = new Set(['isvc', 'isvcs', 'inferenceservice', 'inferenceservices']);

function checkResource(resource: string): void {
  if (!RESOURCE_NAMES.has(resource.toLowerCase()))
    throw new Error(`unknown resource type "${resource}"; use isvc (inferenceservice)`);
}

/** `sluice get isvc [NAME]`: a kubectl-like table (`-o wide`: more columns), or the objects as JSON/YAML. */
export async function getCommand(
  io: Io,
  resource: string,
  name: string | undefined,
  o: AdminTarget & { namespace?: string; allNamespaces?: boolean; output?: string; chunkSize?: string },
): Promise<void> {
  checkResource(resource);
  const format = checkFormat(o.output, true);
  const chunk = o.chunkSize === undefined ? LIST_PAGE_SIZE : Number(o.chunkSize);
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`--chunk-size must be a positive integer, got ${o.chunkSize}`);
  const client = adminClientFor(o);
  const ns = o.namespace ?? 'default';
  const items = name ? [await client.get(ns, name)] : await client.list(o.allNamespaces ? null : ns, chunk);
  if (format === 'json' || format === 'yaml') {
    io.out(printObjects(items, format, !name));
    return;
  }
  if (items.length === 0) {
    io.err(`No resources found in ${o.allNamespaces ? 'any' : ns} namespace.\n`);
    return;
  }
  io.out(isvcTable(items, { allNamespaces: o.allNamespaces === true, wide: format === 'wide' }));
}

export async function deleteCommand(io: Io, resource: string, name: string, o: AdminTarget & { namespace?: string }): Promise<void> {
  checkResource(resource);
  const client = adminClientFor(o);
  await client.delete(o.namespace ?? 'default', name);
  io.out(`inferenceservice.serving.kserve.io "${name}" deleted\n`);
}

/** `sluice simulate`: the InferenceService's autoscaling settings against a recorded or synthetic trace. */
export async function simulateCommand(
  io: Io,
  o: { filename: string; trace: string; out?: string; startupSeconds?: number; gpus?: number; tickPhaseMs?: number; compareKeepWarm?: boolean },
): Promise<void> {
  const [{ parseManifests }, { autoscalingFor }, { gpusOf }, { runSimulateCommand }] = await Promise.all([
    import('../api/manifests.js'),
    import('../api/autoscaling.js'),
    import('../deploy/revision-builder.js'),
    import('./simulate.js'),
  ]);
  const objs = parseManifests(await readInput(o.filename), o.filename);
  const isvc = objs.find((x) => x.kind === 'InferenceService');
  if (!isvc || isvc.kind !== 'InferenceService') throw new Error(`${o.filename}: no InferenceService found`);
  const predictor = isvc.object.spec.predictor;
  const resources = predictor.model?.resources ?? predictor.containers?.[0]?.resources ?? { requests: {}, limits: {} };
  const result = await runSimulateCommand({
    revision: {
      autoscaling: autoscalingFor(isvc.object, 'predictor'),
      containerConcurrency: predictor.containerConcurrency ?? 0,
      gpus: gpusOf(resources),
    },
    tracePath: o.trace,
    outDir: o.out,
    startupSeconds: o.startupSeconds,
    gpuCount: o.gpus,
    tickPhaseMs: o.tickPhaseMs,
    compareKeepWarm: o.compareKeepWarm,
    label: isvc.object.metadata.name,
  });
  io.out(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
}

/** `sluice render`: the Deployment and Service of each of the InferenceService's components, for review. */
export async function renderCommand(io: Io, o: { filename: string; output?: string; runtimes?: string[] }): Promise<void> {
  const format = checkFormat(o.output, false);
  const [{ parseManifests }, { defaultInferenceService }, { buildRevision }, { renderRevision }] = await Promise.all([
    import('../api/manifests.js'),
    import('../deploy/defaulting.js'),
    import('../deploy/revision-builder.js'),
    import('../deploy/backends/kubernetes/render-revision.js'),
  ]);
  const objs = parseManifests(await readInput(o.filename), o.filename);
  const catalogue = await catalogueFor(objs, o.runtimes);
  const out: object[] = [];
  for (const x of objs) {
    if (x.kind !== 'InferenceService') continue;
    const isvc = defaultInferenceService(x.object, catalogue);
    // Every component the spec has: predictor, then transformer and explainer (docs/transformer.md).
    for (const component of ['predictor', 'transformer', 'explainer'] as const) {
      if (isvc.spec[component] === undefined) continue;
      const rev = buildRevision(isvc, component, catalogue, { generation: 1, createdAt: new Date(0).toISOString() });
      out.push(...renderRevision(rev));
    }
  }
  if (out.length === 0) throw new Error(`${o.filename}: no InferenceService found`);
  io.out(printObjects(out, format, out.length > 1));
}
