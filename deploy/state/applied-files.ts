/**
 * The config folder's memory across restarts: for each YAML file, a hash of each InferenceService it last
 * applied. At start a file whose service is unchanged is not applied again, so a change made through the API
 * (a tag, a canary, a rollback) to a file-defined service lasts until the file itself changes — as it does
 * while Sluice runs. Kept in `<stateDir>/config-files.json`; losing it only means every file applies again.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Logger } from '../../core/log.js';
import type { DurableFiles } from './durable-files.js';

/** Content hash by `<ns>/<name>`, by file path. */
export type AppliedFiles = Map<string, Map<string, string>>;

/** What the config folder needs to remember what it applied. */
export interface AppliedFilesMemory {
  load(): Promise<AppliedFiles>;
  save(files: AppliedFiles): Promise<void>;
}

const FORMAT = 'sluice.dev/config-files/v1';
const shape = z.object({ format: z.literal(FORMAT), files: z.record(z.record(z.string())) }).strict();

export class AppliedFilesFile implements AppliedFilesMemory {
  private readonly path: string;
  private readonly files: DurableFiles;
  private readonly logger: Logger;
  private last = '';

  constructor(o: { path: string; files: DurableFiles; logger: Logger }) {
    this.path = o.path;
    this.files = o.files;
    this.logger = o.logger;
  }

  async load(): Promise<AppliedFiles> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
      throw err;
    }
    let parsed: z.infer<typeof shape>;
    try {
      parsed = shape.parse(JSON.parse(text));
    } catch (err) {
      this.logger.warn({ file: this.path, err }, 'config folder memory is unreadable; every config file applies again');
      return new Map();
    }
    this.last = text;
    return new Map(Object.entries(parsed.files).map(([p, s]) => [p, new Map(Object.entries(s))]));
  }

  async save(files: AppliedFiles): Promise<void> {
    const out: Record<string, Record<string, string>> = {};
    for (const [p, s] of [...files].sort(([a], [b]) => a.localeCompare(b))) if (s.size > 0) out[p] = Object.fromEntries(s);
    const text = `${JSON.stringify({ format: FORMAT, files: out })}\n`;
    if (text === this.last) return;
    await this.files.write(this.path, text);
    this.last = text;
  }
}
