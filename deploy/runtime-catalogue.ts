/**
 * The runtime catalogue: ClusterServingRuntimes, namespaced ServingRuntimes and local launch recipes, loaded from
 * YAML folders (data, not code). The built-in catalogue ships in deploy/catalogue/.
 */
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ValidationError } from '../core/errors.js';
import { parseManifests } from '../api/manifests.js';
import type { LocalLaunchRecipe } from '../api/revision.js';
import type { ServingRuntime } from '../api/servingruntime.js';

export interface RuntimeCatalogue {
  clusterRuntimes: ServingRuntime[];
  /** Namespaced ServingRuntimes (metadata.namespace always set). */
  runtimes: ServingRuntime[];
  /** Local launch recipe by runtime name. */
  localRecipes: Map<string, LocalLaunchRecipe>;
}

/** Bound on files read from one folder tree, so a wrong path (e.g. `/`) fails fast instead of walking a disk. */
export const MAX_CATALOGUE_FILES = 1000;

export function emptyCatalogue(): RuntimeCatalogue {
  return { clusterRuntimes: [], runtimes: [], localRecipes: new Map() };
}

/**
 * Loads every *.yaml / *.yml under each folder (recursively, in name order). Within one folder a name may be
 * defined once; a later folder overrides an earlier one by name (so a user folder can replace a built-in runtime).
 */
export function loadCatalogue(dirs: string[]): RuntimeCatalogue {
  return dirs.map(loadCatalogueDir).reduce(mergeCatalogue, emptyCatalogue());
}

function loadCatalogueDir(dir: string): RuntimeCatalogue {
  const out = emptyCatalogue();
  const seen = new Map<string, string>();
  const claim = (key: string, file: string): void => {
    const before = seen.get(key);
    if (before !== undefined) {
      throw new ValidationError([{ path: 'metadata.name', message: `${key} is defined twice: in ${before} and ${file}` }], `runtime catalogue ${dir}`);
    }
    seen.set(key, file);
  };
  for (const file of yamlFiles(dir)) {
    for (const obj of parseManifests(readFileSync(file, 'utf8'), file)) {
      switch (obj.kind) {
        case 'ClusterServingRuntime':
          claim(`ClusterServingRuntime ${obj.object.metadata.name}`, file);
          out.clusterRuntimes.push(obj.object);
          break;
        case 'ServingRuntime':
          claim(`ServingRuntime ${obj.object.metadata.namespace ?? 'default'}/${obj.object.metadata.name}`, file);
          out.runtimes.push(obj.object);
          break;
        case 'LocalLaunchRecipe':
          claim(`LocalLaunchRecipe ${obj.runtime}`, file);
          out.localRecipes.set(obj.runtime, obj.recipe);
          break;
        case 'InferenceService':
          throw new ValidationError(
            [{ path: 'kind', message: 'an InferenceService does not belong in the runtime catalogue' }],
            `${file}: document ${obj.index}`,
          );
      }
    }
  }
  return out;
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`runtime catalogue folder ${dir} does not exist`);
  }
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.ya?ml$/i.test(name)) {
        files.push(p);
        if (files.length > MAX_CATALOGUE_FILES) {
          throw new Error(`runtime catalogue ${dir} holds more than ${MAX_CATALOGUE_FILES} YAML files`);
        }
      }
    }
  };
  walk(dir);
  return files;
}

/** `b` on top of `a`: entries of `b` replace entries of `a` with the same name (and namespace). */
export function mergeCatalogue(a: RuntimeCatalogue, b: RuntimeCatalogue): RuntimeCatalogue {
  const clusterNames = new Set(b.clusterRuntimes.map((r) => r.metadata.name));
  const nsKey = (r: ServingRuntime): string => `${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
  const nsNames = new Set(b.runtimes.map(nsKey));
  return {
    clusterRuntimes: [...a.clusterRuntimes.filter((r) => !clusterNames.has(r.metadata.name)), ...b.clusterRuntimes],
    runtimes: [...a.runtimes.filter((r) => !nsNames.has(nsKey(r))), ...b.runtimes],
    localRecipes: new Map([...a.localRecipes, ...b.localRecipes]),
  };
}

/** The package's own deploy/catalogue folder, found from this file whether it runs from source or from dist/. */
export function builtinCatalogueDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'deploy', 'catalogue');
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the Sluice package root (no package.json above the runtime catalogue module)');
    dir = parent;
  }
}
