/**
 * Concurrent admin-API list readers on a worker thread (`runListClients`): the measuring thread's event loop
 * never waits for them, so a data-plane prober beside them measures the server, not its neighbours.
 */
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

export interface ListRead {
  ms: number;
  bytes: number;
  /** the answer began with a list head and ended with `]}` */
  whole: boolean;
}

interface Job {
  url: string;
  headers: Record<string, string>;
  clients: number;
}

/** Reads `url` with `clients` concurrent GETs on a worker thread; each body is read to the end as it arrives, not parsed. */
export function runListClients(url: string, headers: Record<string, string>, clients: number): Promise<ListRead[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(new URL(import.meta.url), { workerData: { url, headers, clients } satisfies Job });
    w.once('message', (m: ListRead[] | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    w.once('error', reject);
  });
}

async function readOne(job: Job): Promise<ListRead> {
  const start = performance.now();
  const r = await fetch(job.url, { headers: job.headers });
  if (r.status !== 200 || !r.body) throw new Error(`list: HTTP ${r.status}`);
  let bytes = 0;
  let head = '';
  let tail = '';
  for await (const chunk of r.body) {
    const b = Buffer.from(chunk);
    bytes += b.length;
    if (head.length < 32) head += b.subarray(0, 32).toString('latin1');
    tail = (tail + b.subarray(Math.max(0, b.length - 2)).toString('latin1')).slice(-2);
  }
  return { ms: performance.now() - start, bytes, whole: head.startsWith('{"apiVersion"') && tail === ']}' };
}

if (!isMainThread && parentPort) {
  const job = workerData as Job;
  Promise.all(Array.from({ length: job.clients }, () => readOne(job))).then(
    (reads) => parentPort!.postMessage(reads),
    (err: unknown) => parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) }),
  );
}
