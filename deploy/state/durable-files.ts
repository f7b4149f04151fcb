/**
 * Durable whole-file writes with node:fs only: write a temp file beside the target, fsync it, rename it over the
 * target, fsync the directory. A reader sees the old file or the new one, never a mix; a crash leaves at most a
 * temp file (`*.tmp`), which loaders ignore and `removeTempFiles` deletes.
 *
 * Directory fsyncs are group-committed: every rename that finished before a directory fsync started is made
 * durable by it, so many concurrent writes into one directory share a few directory fsyncs.
 */
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { deferred, type Deferred } from './deferred.js';

export const TEMP_SUFFIX = '.tmp';

/** What the writer has done, for tests and measurements. */
export interface DurableWriteStats {
  /** Files written (each fsynced once). */
  files: number;
  /** fsyncs of directories (shared by the renames they cover). */
  directorySyncs: number;
}

interface DirSlot {
  running: Promise<void> | null;
  /** Waiters for the next fsync: it must start after they registered. */
  next: Deferred | null;
}

export class DurableFiles {
  /** Told of each fsync (a metric). */
  private readonly onSync: ((kind: 'file' | 'directory') => void) | undefined;
  private readonly dirs = new Map<string, DirSlot>();
  /** Directories made durable (created and their parent fsynced), or being made so; bounded by the directories used. */
  private readonly made = new Map<string, Promise<void>>();
  private seq = 0;
  readonly stats: DurableWriteStats = { files: 0, directorySyncs: 0 };

  constructor(o: { onSync?: (kind: 'file' | 'directory') => void } = {}) {
    this.onSync = o.onSync;
  }

  /** Replaces `path` with `text`; resolves once the new content survives a crash. */
  async write(path: string, text: string): Promise<void> {
    const dir = dirname(path);
    await this.ensureDir(dir);
    const temp = `${path}.${process.pid}.${++this.seq}${TEMP_SUFFIX}`;
    const fh = await open(temp, 'w', 0o600);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    this.stats.files++;
    this.onSync?.('file');
    try {
      await rename(temp, path);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw err;
    }
    await this.syncDir(dir);
  }

  /** Removes `path` (absent is fine) and makes the removal durable. */
  async remove(path: string): Promise<void> {
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    await this.syncDir(dirname(path));
  }

  /** fsync of a directory, shared with every caller that arrives before it starts. */
  syncDir(dir: string): Promise<void> {
    let slot = this.dirs.get(dir);
    if (!slot) {
      slot = { running: null, next: null };
      this.dirs.set(dir, slot);
    }
    if (slot.next) return slot.next.promise;
    const next = deferred();
    slot.next = next;
    if (!slot.running) this.startDirSync(dir, slot);
    return next.promise;
  }

  private startDirSync(dir: string, slot: DirSlot): void {
    const waiters = slot.next!;
    slot.next = null;
    slot.running = fsyncPath(dir)
      .then(
        () => {
          this.stats.directorySyncs++;
          this.onSync?.('directory');
          waiters.resolve();
        },
        (err: unknown) => waiters.reject(err),
      )
      .finally(() => {
        slot.running = null;
        if (slot.next) this.startDirSync(dir, slot);
        else this.dirs.delete(dir);
      });
  }

  private ensureDir(dir: string): Promise<void> {
    let p = this.made.get(dir);
    if (!p) {
      p = this.makeDir(dir);
      p.catch(() => this.made.delete(dir));
      this.made.set(dir, p);
    }
    return p;
  }

  private async makeDir(dir: string): Promise<void> {
    const created = await mkdir(dir, { recursive: true, mode: 0o700 });
    // A new directory's entry lives in its parent: make each level created durable.
    if (created !== undefined) {
      for (let d = dir; d.length >= created.length; d = dirname(d)) await this.syncDir(dirname(d));
    }
  }
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Deletes temp files a crash left in `dir` (not recursive); returns how many. */
export async function removeTempFiles(dir: string): Promise<number> {
  let n = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!name.endsWith(TEMP_SUFFIX)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    n++;
  }
  return n;
}
