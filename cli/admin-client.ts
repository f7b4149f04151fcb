import { errorMessage } from '../core/errors.js';

/** A small client of the admin API (the Kubernetes REST shape), used by the CLI. */
export class AdminClient {
  constructor(private readonly base: string) {}

  private collection(ns: string): string {
    return `${this.base}/apis/serving.kserve.io/v1beta1/namespaces/${encodeURIComponent(ns)}/inferenceservices`;
  }

  async get(ns: string, name: string): Promise<Record<string, unknown>> {
    return this.call('GET', `${this.collection(ns)}/${encodeURIComponent(name)}`);
  }

  async list(ns: string | null): Promise<Array<Record<string, unknown>>> {
    const url = ns === null ? `${this.base}/apis/serving.kserve.io/v1beta1/inferenceservices` : this.collection(ns);
    const r = await this.call('GET', url);
    return (r.items as Array<Record<string, unknown>>) ?? [];
  }

  async put(ns: string, name: string, body: unknown): Promise<{ status: number; object: Record<string, unknown> }> {
    return this.callWithStatus('PUT', `${this.collection(ns)}/${encodeURIComponent(name)}`, body);
  }

  /** Applies a traffic command (`POST …/<name>/traffic`); returns the updated InferenceService. */
  async traffic(ns: string, name: string, command: unknown): Promise<Record<string, unknown>> {
    return this.call('POST', `${this.collection(ns)}/${encodeURIComponent(name)}/traffic`, command);
  }

  /** Revisions with the exact spec each was made from (`GET …/<name>/revisions`). */
  async revisions(ns: string, name: string): Promise<Array<Record<string, unknown>>> {
    const r = await this.call('GET', `${this.collection(ns)}/${encodeURIComponent(name)}/revisions`);
    return (r.items as Array<Record<string, unknown>>) ?? [];
  }

  async delete(ns: string, name: string): Promise<void> {
    await this.call('DELETE', `${this.collection(ns)}/${encodeURIComponent(name)}`);
  }

  private async call(method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
    return (await this.callWithStatus(method, url, body)).object;
  }

  private async callWithStatus(method: string, url: string, body?: unknown): Promise<{ status: number; object: Record<string, unknown> }> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new Error(`cannot reach the Sluice admin API at ${this.base} (is \`sluice serve\` running? set --server or SLUICE_SERVER): ${errorMessage((err as { cause?: unknown }).cause ?? err)}`);
    }
    const text = await res.text();
    let obj: Record<string, unknown> = {};
    try {
      obj = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      obj = { message: text };
    }
    if (!res.ok) throw new Error(typeof obj.message === 'string' ? obj.message : `${method} ${url}: HTTP ${res.status}`);
    return { status: res.status, object: obj };
  }
}
