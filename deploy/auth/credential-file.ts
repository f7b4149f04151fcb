/**
 * Hashed credentials (data-plane API keys, admin tokens with roles) kept in the state directory as one JSON file
 * each (`api-keys.json`, `admin-tokens.json`, mode 0600, replaced atomically), and in memory by hash and by id.
 * Nothing here ever holds a key or token itself: only its SHA-256. Bounded by `max` records; a change is saved
 * before it is answered, and saves are done one at a time in order.
 */
import { readFileSync } from 'node:fs';
import { HttpError, errorMessage } from '../../core/errors.js';
import type { DurableFiles } from '../state/durable-files.js';

export interface StoredCredential {
  id: string;
  name: string;
  hash: string;
  createdAt: string;
}

export class CredentialFile<R extends StoredCredential> {
  private readonly byHashMap = new Map<string, R>();
  private readonly byIdMap = new Map<string, R>();
  private saving: Promise<void> = Promise.resolve();
  /** Bumped by every add and remove (readers drop what they cached). */
  version = 0;
  /**
   * Awaited after a change is saved and before add/remove resolve (so before the admin API answers): the worker
   * processes of `sluice serve --workers N` learn of it here (cli/workers.ts). Must not throw.
   */
  onChange: ((change: { added?: R; removed?: R }) => Promise<void>) | null = null;

  constructor(
    private readonly o: {
      path: string;
      /** Durable writes (the state directory's); null keeps records in memory only (tests). */
      files: DurableFiles | null;
      max: number;
      /** What the records are, for errors ("API key", "admin token"). */
      what: string;
    },
  ) {}

  /** Reads the file if there is one; throws naming it when it is not what was written. */
  load(): this {
    let text: string;
    try {
      text = readFileSync(this.o.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this;
      throw err;
    }
    let doc: { items?: unknown };
    try {
      doc = JSON.parse(text) as { items?: unknown };
    } catch (err) {
      throw new Error(`${this.o.path} is not JSON: ${errorMessage(err)}`);
    }
    if (!Array.isArray(doc.items)) throw new Error(`${this.o.path} has no "items" array`);
    for (const r of doc.items as R[]) {
      if (typeof r?.id !== 'string' || typeof r.hash !== 'string') throw new Error(`${this.o.path}: an item has no id or hash`);
      this.byHashMap.set(r.hash, r);
      this.byIdMap.set(r.id, r);
    }
    return this;
  }

  byHash(hash: string): R | undefined {
    return this.byHashMap.get(hash);
  }

  get(id: string): R | undefined {
    return this.byIdMap.get(id);
  }

  list(): R[] {
    return [...this.byIdMap.values()];
  }

  get size(): number {
    return this.byIdMap.size;
  }

  async add(r: R): Promise<void> {
    if (this.byIdMap.size >= this.o.max)
      throw new HttpError(409, `there are already ${this.o.max} ${this.o.what}s (the limit, setting maxApiKeys); revoke some first`);
    this.byHashMap.set(r.hash, r);
    this.byIdMap.set(r.id, r);
    this.version++;
    try {
      await this.save();
    } catch (err) {
      // Not kept, so not valid: the caller never saw it.
      this.byHashMap.delete(r.hash);
      this.byIdMap.delete(r.id);
      this.version++;
      throw err;
    }
    await this.onChange?.({ added: r });
  }

  /** Forgets a record (it stops working at once in this process); false when there was none. */
  async remove(id: string): Promise<boolean> {
    const r = this.byIdMap.get(id);
    if (!r) return false;
    this.byIdMap.delete(id);
    this.byHashMap.delete(r.hash);
    this.version++;
    try {
      await this.save();
    } finally {
      // Gone from memory here even when the save failed: the workers forget it too.
      await this.onChange?.({ removed: r });
    }
    return true;
  }

  private save(): Promise<void> {
    const files = this.o.files;
    if (files === null) return Promise.resolve();
    const next = this.saving.then(() => files.write(this.o.path, `${JSON.stringify({ items: this.list() }, null, 1)}\n`));
    this.saving = next.catch(() => undefined);
    return next;
  }
}
