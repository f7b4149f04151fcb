import { parseWarningHeader } from '../api/warning-header.js';
import { errorMessage } from '../core/errors.js';

/** A token to send, and what to tell the user when the server refuses it (401). */
export interface AdminClientCredentials {
  token: string | null;
  hint?: string;
}

/** Errors of a connection that was made and then broke: something answered, so "cannot reach" would mislead. */
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** A small client of the admin API (the Kubernetes REST shape), used by the CLI. Sends the bearer token if it has one. */
export class AdminClient {
  constructor(
    private readonly base: string,
    private readonly credentials: AdminClientCredentials = { token: null },
  ) {}

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

  /** Creates or replaces; `warnings` are the server's `Warning` header texts (fields accepted but not active, …). */
  async put(ns: string, name: string, body: unknown): Promise<{ status: number; object: Record<string, unknown>; warnings: string[] }> {
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

  private async callWithStatus(method: string, url: string, body?: unknown): Promise<{ status: number; object: Record<string, unknown>; warnings: string[] }> {
    let res: Response;
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.credentials.token) headers.authorization = `Bearer ${this.credentials.token}`;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause ?? err;
      const code = (cause as { code?: unknown }).code;
      if (typeof code === 'string' && BROKEN.has(code))
        throw new Error(`the connection to the Sluice admin API at ${this.base} broke before it answered ${method} ${url}: ${errorMessage(cause)}`);
      throw new Error(`cannot reach the Sluice admin API at ${this.base} (is \`sluice serve\` running? set --server or SLUICE_SERVER): ${errorMessage(cause)}`);
    }
    const text = await res.text();
    let obj: Record<string, unknown> = {};
    try {
      obj = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      obj = { message: text };
    }
    if (!res.ok) {
      const said = typeof obj.message === 'string' ? obj.message : `${method} ${url}: HTTP ${res.status}`;
      if (res.status === 401) throw new Error(`${said} (HTTP 401 from ${this.base}): ${this.credentials.hint ?? 'pass --token or set SLUICE_ADMIN_TOKEN'}`);
      throw new Error(said);
    }
    return { status: res.status, object: obj, warnings: parseWarningHeader(res.headers.get('warning')) };
  }
}
