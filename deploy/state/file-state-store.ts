/**
 * Embedded mode's durable state: one file per InferenceService, `<stateDir>/services/<namespace>/<name>.json`,
 * replaced atomically on each change (durable-files.ts). Writes of one service are serialized and coalesced (at
 * most one running and one waiting, the waiting one writes the newest state); writes of different services run
 * concurrently and share directory fsyncs.
 *
 * A deleted service leaves a small tombstone file holding its next revision number, so a re-created service
 * never reuses a revision name. At most `maxDeletedRemembered` tombstones are kept; beyond that the oldest is
 * forgotten (logged) and a service re-created under that name starts again at 00001.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../core/log.js';
import { DurableFiles, removeTempFiles } from './durable-files.js';
import { decodeStateFile, encodeStateFile, type ControllerStore, type StateFile, type StoredService } from './service-state.js';
import { deferred, type Deferred } from './deferred.js';

export interface FileStateStoreOptions {
  /** The state directory; services live under `<dir>/services`. */
  dir: string;
  logger: Logger;
  /** Deleted services whose revision counter is remembered. Default 10000. */
  maxDeletedRemembered?: number;
  /** Injected for tests. */
  now?: () => number;
  /** Told of each fsync (the `sluice_state_fsyncs_total` metric). */
  onSync?: (kind: 'file' | 'directory') => void;
}

export interface LoadedState {
  services: StoredService[];
  /** Temp files of interrupted writes that were found and deleted. */
  tempFilesRemoved: number;
}

interface Slot {
  /** The content to write when the write starts; null removes the file. */
  build: () => StateFile | null;
  running: boolean;
  next: Deferred | null;
}

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const READ_BATCH = 64;

export class FileStateStore implements ControllerStore {
  readonly files: DurableFiles;
  private readonly o: FileStateStoreOptions;
  private readonly root: string;
  /** Next revision number by `<ns>/<name>`, for live and remembered deleted services. */
  private readonly counters = new Map<string, number>();
  /** Deleted services remembered, oldest first (Map order), with their deletion time. */
  private readonly deleted = new Map<string, number>();
  /** One slot per service with a write running or waiting. */
  private readonly slots = new Map<string, Slot>();
  /** Hash of the last content written per service, to skip writes that change nothing. */
  private readonly written = new Map<string, string>();
  /** Writes running now (bounded by the services with a slot). */
  private readonly running = new Set<Promise<void>>();

  constructor(o: FileStateStoreOptions) {
    this.o = o;
    this.root = join(o.dir, 'services');
    this.files = new DurableFiles(o.onSync ? { onSync: o.onSync } : {});
  }

  /** Reads every state file (ignoring and deleting temp files). Throws, naming the file, on a bad one. */
  async load(): Promise<LoadedState> {
    const services: StoredService[] = [];
    const tombstones: Array<{ key: string; at: number }> = [];
    let tempFilesRemoved = 0;
    const namespaces = await readdir(this.root, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return [];
      throw err;
    });
    for (const ns of namespaces) {
      if (!ns.isDirectory()) continue;
      const dir = join(this.root, ns.name);
      tempFilesRemoved += await removeTempFiles(dir);
      const names = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
      // Read a batch at a time: thousands of services load in parallel without thousands of open files.
      const texts: string[] = [];
      for (let i = 0; i < names.length; i += READ_BATCH)
        texts.push(...(await Promise.all(names.slice(i, i + READ_BATCH).map((f) => readFile(join(dir, f), 'utf8')))));
      for (const [i, f] of names.entries()) {
        const path = join(dir, f);
        const text = texts[i]!;
        const state = decodeStateFile(text, path);
        const { namespace, name } = state.kind === 'service' ? state.service : state;
        if (namespace !== ns.name || `${name}.json` !== f) throw new Error(`state file ${path} holds ${namespace}/${name}; it belongs in ${this.pathOf(namespace, name)}`);
        const key = `${namespace}/${name}`;
        this.counters.set(key, state.nextRevision);
        this.written.set(key, hashOf(text));
        if (state.kind === 'service') services.push(state.service);
        else tombstones.push({ key, at: Date.parse(state.deletedAt) || 0 });
      }
    }
    tombstones.sort((a, b) => a.at - b.at);
    for (const t of tombstones) this.deleted.set(t.key, t.at);
    return { services, tempFilesRemoved };
  }

  nextRevisionNumber(namespace: string, name: string): number {
    return this.counters.get(`${namespace}/${name}`) ?? 1;
  }

  save(namespace: string, name: string, state: () => StoredService): Promise<void> {
    const key = `${namespace}/${name}`;
    // Live again at once: a re-created service's counter is never forgotten with the deleted ones.
    this.deleted.delete(key);
    return this.enqueue(namespace, name, () => {
      const service = state();
      const last = service.revisions.reduce((m, r) => Math.max(m, r.generation), 0);
      const nextRevision = Math.max(this.nextRevisionNumber(namespace, name), last + 1);
      this.counters.set(key, nextRevision);
      return { kind: 'service', nextRevision, service };
    });
  }

  async remove(namespace: string, name: string, nextRevision: number): Promise<void> {
    const key = `${namespace}/${name}`;
    // At once, not when the write starts: a service re-created meanwhile must already see the counter.
    const n = Math.max(this.nextRevisionNumber(namespace, name), nextRevision);
    this.counters.set(key, n);
    const now = this.o.now?.() ?? Date.now();
    this.deleted.delete(key);
    this.deleted.set(key, now);
    await this.enqueue(namespace, name, () => ({
      kind: 'deleted',
      namespace,
      name,
      nextRevision: this.nextRevisionNumber(namespace, name),
      deletedAt: new Date(now).toISOString(),
    }));
    await this.forgetOldDeleted();
  }

  /** Beyond the bound, the oldest deleted services' files go (through their slot, so ordered with any write). */
  private async forgetOldDeleted(): Promise<void> {
    const max = this.o.maxDeletedRemembered ?? 10_000;
    const doomed: Array<Promise<void>> = [];
    while (this.deleted.size > max) {
      const key = this.deleted.keys().next().value;
      if (key === undefined) break;
      this.deleted.delete(key);
      this.counters.delete(key);
      const [ns, name] = key.split('/') as [string, string];
      this.o.logger.warn({ service: key, maxDeletedRemembered: max }, 'forgetting the revision counter of a deleted service; re-created, it starts again at 00001');
      doomed.push(this.enqueue(ns, name, () => null));
    }
    await Promise.all(doomed);
  }

  private pathOf(namespace: string, name: string): string {
    if (!NAME.test(namespace) || !NAME.test(name)) throw new Error(`cannot keep state for ${namespace}/${name}: not DNS labels`);
    return join(this.root, namespace, `${name}.json`);
  }

  /** Serializes and coalesces writes per service: the waiting write builds its content when it starts. */
  private enqueue(namespace: string, name: string, build: () => StateFile | null): Promise<void> {
    const key = `${namespace}/${name}`;
    const path = this.pathOf(namespace, name);
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { build, running: false, next: null };
      this.slots.set(key, slot);
    }
    slot.build = build;
    if (slot.next) return slot.next.promise;
    const next = deferred();
    slot.next = next;
    if (!slot.running) this.run(key, path, slot);
    return next.promise;
  }

  private run(key: string, path: string, slot: Slot): void {
    const waiters = slot.next!;
    slot.next = null;
    slot.running = true;
    const write = async (): Promise<void> => {
      const content = slot.build();
      if (content === null) {
        await this.files.remove(path);
        this.written.delete(key);
        return;
      }
      const text = encodeStateFile(content);
      const hash = hashOf(text);
      if (this.written.get(key) === hash) return;
      await this.files.write(path, text);
      this.written.set(key, hash);
    };
    const done = write()
      .then(waiters.resolve, waiters.reject)
      .finally(() => {
        this.running.delete(done);
        slot.running = false;
        if (slot.next) this.run(key, path, slot);
        else this.slots.delete(key);
      });
    this.running.add(done);
  }

  /** Resolves once no write is running or waiting (at shutdown, so background saves are not cut). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

function hashOf(text: string): string {
  return createHash('sha1').update(text).digest('base64');
}
