/**
 * A full garbage collection of another Node process, through its inspector (it must run with
 * `--inspect=127.0.0.1:<port>`), and the V8 heap it then holds. The inspector's collection gathers all
 * available garbage and hands free pages back to the system, so RSS read right after it is close to what the
 * process needs; it pauses the process about twice as long as one plain `gc()` would. Between collections a process's heap and RSS
 * include garbage V8 has not got round to yet, which grows for a minute or more under load and says nothing
 * about leaks; what survives a full collection is what the process really keeps.
 */
import { request, WebSocket } from 'undici';

export interface AfterGc {
  /** V8 heap in use right after the collection, bytes */
  heapUsedBytes: number;
  /** how long the collection (and the round trip) took, ms */
  pauseMs: number;
}

interface Reply {
  id?: number;
  result?: { usedSize?: number };
  error?: { message?: string };
}

export class InspectorGc {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: Reply) => void>();

  private constructor(private readonly socket: WebSocket) {
    socket.addEventListener('message', (ev) => {
      const reply = JSON.parse(String(ev.data)) as Reply;
      if (reply.id === undefined) return;
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
  }

  /** Connects to the inspector listening on 127.0.0.1:`port` (its first target). */
  static async connect(port: number, timeoutMs = 10_000): Promise<InspectorGc> {
    const deadline = Date.now() + timeoutMs;
    let url: string | undefined;
    while (!url) {
      try {
        const res = await request(`http://127.0.0.1:${port}/json/list`);
        const targets = (await res.body.json()) as Array<{ webSocketDebuggerUrl?: string }>;
        url = targets[0]?.webSocketDebuggerUrl;
      } catch {
        // not listening yet
      }
      if (!url) {
        if (Date.now() > deadline) throw new Error(`no inspector on 127.0.0.1:${port} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener('open', () => resolve(), { once: true });
      socket.addEventListener('error', () => reject(new Error(`cannot open the inspector socket ${url}`)), { once: true });
    });
    return new InspectorGc(socket);
  }

  private call(method: string, params: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<Reply> {
    const id = this.nextId++;
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`inspector ${method}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.error) reject(new Error(`inspector ${method}: ${reply.error.message ?? 'error'}`));
        else resolve(reply);
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Runs a full collection in the process and reads its heap right after. */
  async collect(): Promise<AfterGc> {
    const t0 = performance.now();
    await this.call('HeapProfiler.collectGarbage');
    const pauseMs = performance.now() - t0;
    const usage = await this.call('Runtime.getHeapUsage');
    return { heapUsedBytes: usage.result?.usedSize ?? Number.NaN, pauseMs };
  }

  close(): void {
    this.socket.close();
  }
}
