/**
 * Runtimes applied through the admin API, kept across restarts: one file per document,
 * `<stateDir>/runtimes/<resource>/[<namespace>/]<name>.json`, replaced atomically (durable-files.ts).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../core/errors.js';
import { RUNTIME_RESOURCES, type RuntimeDocument, type RuntimeResource, type RuntimeStore } from '../runtime-registry.js';
import { removeTempFiles, type DurableFiles } from './durable-files.js';

export class RuntimeFiles implements RuntimeStore {
  private readonly root: string;

  constructor(
    dir: string,
    private readonly files: DurableFiles,
  ) {
    this.root = join(dir, 'runtimes');
  }

  private path(resource: RuntimeResource, key: string): string {
    return `${join(this.root, resource, ...key.split('/'))}.json`;
  }

  save(resource: RuntimeResource, key: string, doc: RuntimeDocument): Promise<void> {
    return this.files.write(this.path(resource, key), `${JSON.stringify(doc)}\n`);
  }

  remove(resource: RuntimeResource, key: string): Promise<void> {
    return this.files.remove(this.path(resource, key));
  }

  /** Every saved document (temp files of interrupted writes are deleted). Throws naming a file that is not JSON. */
  async load(): Promise<Array<{ resource: RuntimeResource; doc: RuntimeDocument; file: string }>> {
    const out: Array<{ resource: RuntimeResource; doc: RuntimeDocument; file: string }> = [];
    for (const resource of Object.keys(RUNTIME_RESOURCES) as RuntimeResource[]) {
      const base = join(this.root, resource);
      const dirs = RUNTIME_RESOURCES[resource].namespaced ? (await entries(base)).filter((e) => e.isDirectory()).map((e) => join(base, e.name)) : [base];
      for (const dir of dirs) {
        await removeTempFiles(dir).catch(() => 0);
        for (const e of (await entries(dir)).filter((f) => f.isFile() && f.name.endsWith('.json')).sort((a, b) => a.name.localeCompare(b.name))) {
          const file = join(dir, e.name);
          try {
            out.push({ resource, doc: JSON.parse(await readFile(file, 'utf8')) as RuntimeDocument, file });
          } catch (err) {
            throw new Error(`${file}: ${errorMessage(err)}`);
          }
        }
      }
    }
    return out;
  }
}

async function entries(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
