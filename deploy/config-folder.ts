import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { InferenceService } from '../api/inferenceservice.js';
import { parseManifests } from '../api/manifests.js';
import { errorMessage } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import type { Controller } from './controller.js';
import { emptyCatalogue, mergeCatalogue, type RuntimeCatalogue } from './runtime-catalogue.js';
import type { AppliedFilesMemory } from './state/applied-files.js';

const MAX_FILES = 5000;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

interface FileState {
  /** Content hash of each InferenceService last applied from this file, by `<ns>/<name>`. */
  services: Map<string, string>;
  catalogue: RuntimeCatalogue;
  /** Digest of the text whose warnings were logged: each load of new content logs them once, a re-sync does not. */
  warnedFor: string | null;
}

export interface ConfigFolderDeps {
  dir: string;
  controller: Controller;
  logger: Logger;
  /** Catalogue the folder's runtimes are layered over (the built-in one). */
  baseCatalogue: RuntimeCatalogue;
  /**
   * What the folder applied before a restart (embedded mode's state directory). A file whose services are
   * unchanged since is not applied again, so API changes to them last until the file changes.
   */
  memory?: AppliedFilesMemory;
}

/**
 * The folder of YAML specs behind `sluice serve --config`. Loads every *.yaml/*.yml (recursively), applies the
 * InferenceServices, layers ServingRuntimes/LocalLaunchRecipes over the built-in catalogue, and re-syncs on
 * change. A file that fails to parse is reported and its previously accepted objects stay as they were. Warnings
 * (fields accepted but not active yet, odd annotations) are logged once each time a file's content is loaded.
 */
export class ConfigFolder {
  private readonly d: ConfigFolderDeps;
  private readonly files = new Map<string, FileState>();
  private catalogueNow: RuntimeCatalogue;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** The sync running now (or settled); the next one starts after it. */
  private queue: Promise<unknown> = Promise.resolve();
  /** A sync waiting to start, shared by everyone who asks meanwhile. */
  private waiting: Promise<string[]> | null = null;
  private remembered = false;

  constructor(deps: ConfigFolderDeps) {
    this.d = deps;
    this.catalogueNow = deps.baseCatalogue;
  }

  catalogue(): RuntimeCatalogue {
    return this.catalogueNow;
  }

  /**
   * Reads the folder and applies what changed. Returns the errors found (also logged) by a sync that started
   * after this call: syncs never overlap, and callers arriving while one runs share the next.
   */
  sync(): Promise<string[]> {
    if (this.waiting) return this.waiting;
    const next = this.queue.then(async () => {
      this.waiting = null;
      const errors: string[] = [];
      await this.doSync(errors);
      return errors;
    });
    this.waiting = next;
    this.queue = next.catch(() => undefined);
    return next;
  }

  watch(): void {
    try {
      this.watcher = watch(this.d.dir, { recursive: true }, () => this.schedule());
      this.watcher.on('error', (err) => this.d.logger.warn({ err }, 'config folder watch failed'));
    } catch (err) {
      this.d.logger.warn({ err }, 'cannot watch the config folder; changes need a restart');
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.sync().catch((err: unknown) => this.d.logger.error({ err }, 'config folder sync failed')), 200);
    this.timer.unref();
  }

  private async doSync(errors: string[]): Promise<void> {
    await this.recall();
    const paths = await listYaml(this.d.dir);
    const seen = new Set<string>();
    const parsed = new Map<string, { services: Map<string, InferenceService>; catalogue: RuntimeCatalogue; digest: string; warnings: string[] }>();
    for (const p of paths) {
      seen.add(p);
      try {
        const st = await stat(p);
        if (st.size > MAX_FILE_BYTES) throw new Error(`file is larger than ${MAX_FILE_BYTES} bytes`);
        const text = await readFile(p, 'utf8');
        const objs = parseManifests(text, relative(process.cwd(), p) || p);
        const services = new Map<string, InferenceService>();
        const catalogue = emptyCatalogue();
        const warnings: string[] = [];
        for (const o of objs) {
          if (o.kind === 'InferenceService') {
            const key = `${o.object.metadata.namespace ?? 'default'}/${o.object.metadata.name}`;
            services.set(key, o.object);
            for (const w of o.warnings) warnings.push(`${key}: ${w}`);
          } else if (o.kind === 'LocalLaunchRecipe') catalogue.localRecipes.set(o.runtime, o.recipe);
          else if (o.object.kind === 'ClusterServingRuntime') catalogue.clusterRuntimes.push(o.object);
          else catalogue.runtimes.push(o.object);
        }
        parsed.set(p, { services, catalogue, digest: createHash('sha256').update(text).digest('hex'), warnings });
      } catch (err) {
        const msg = errorMessage(err);
        errors.push(msg);
        this.d.logger.error({ file: p }, `config file rejected, keeping what it defined before: ${msg}`);
        // Its next good content is a new load, and says its warnings again.
        const state = this.files.get(p);
        if (state) state.warnedFor = null;
      }
    }
    // Catalogue first, so services can name runtimes defined in the same folder.
    for (const [p, f] of parsed) {
      const prev = this.files.get(p);
      if (prev?.warnedFor !== f.digest) for (const w of f.warnings) this.d.logger.warn({ file: p }, w);
      this.files.set(p, { services: prev?.services ?? new Map(), catalogue: f.catalogue, warnedFor: f.digest });
    }
    for (const p of [...this.files.keys()]) if (!seen.has(p)) this.files.get(p)!.catalogue = emptyCatalogue();
    this.catalogueNow = [...this.files.values()].map((f) => f.catalogue).reduce(mergeCatalogue, this.d.baseCatalogue);

    for (const [p, f] of parsed) {
      const state = this.files.get(p)!;
      for (const [key, isvc] of f.services) {
        const json = createHash('sha256').update(JSON.stringify(isvc)).digest('base64');
        if (state.services.get(key) === json) continue;
        try {
          await this.d.controller.apply(isvc, `file:${p}`);
          state.services.set(key, json);
        } catch (err) {
          const msg = `${relative(process.cwd(), p) || p}: ${key}: ${errorMessage(err)}`;
          errors.push(msg);
          this.d.logger.error({ file: p }, `InferenceService rejected, keeping the previous one: ${msg}`);
        }
      }
      for (const key of [...state.services.keys()]) {
        if (f.services.has(key)) continue;
        await this.deleteFrom(key, p);
        state.services.delete(key);
      }
    }
    for (const [p, state] of [...this.files]) {
      if (seen.has(p)) continue;
      for (const key of state.services.keys()) await this.deleteFrom(key, p);
      this.files.delete(p);
    }
    await this.d.memory
      ?.save(new Map([...this.files].map(([p, f]) => [p, f.services])))
      .catch((err: unknown) => this.d.logger.warn({ err }, 'cannot save what the config folder applied; its files apply again at the next start'));
  }

  /** Once, before the first sync: what this folder's files applied before a restart. */
  private async recall(): Promise<void> {
    if (this.remembered || !this.d.memory) return;
    this.remembered = true;
    const inside = `${this.d.dir}${sep}`;
    for (const [p, services] of await this.d.memory.load())
      if (p.startsWith(inside)) this.files.set(p, { services, catalogue: emptyCatalogue(), warnedFor: null });
  }

  /** Deletes a service that a file no longer defines, unless another source has taken it over since. */
  private async deleteFrom(key: string, file: string): Promise<void> {
    if (!this.d.controller.keysFrom(`file:${file}`).includes(key)) return;
    const [ns, name] = key.split('/') as [string, string];
    try {
      await this.d.controller.delete(ns, name);
    } catch (err) {
      this.d.logger.error({ file, service: key }, `cannot delete a service its file no longer defines: ${errorMessage(err)}`);
    }
  }
}

async function listYaml(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (out.length >= MAX_FILES) return;
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\.ya?ml$/.test(e.name)) out.push(p);
    }
  };
  await walk(dir);
  return out;
}
