import { parseWarningHeader } from '../api/warning-header.js';
import { errorMessage } from '../core/errors.js';

/** Objects asked for per list request; `list` follows `continue` until the last page. */
export const LIST_PAGE_SIZE = 500;

export type RuntimeKindName = 'ClusterServingRuntime' | 'ServingRuntime' | 'LocalLaunchRecipe';

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

  /** Every InferenceService (in one namespace, or all), page by page (`limit`/`continue`) until the last. */
  async list(ns: string | null, pageSize = LIST_PAGE_SIZE): Promise<Array<Record<string, unknown>>> {
    const url = ns === null ? `${this.base}/apis/serving.kserve.io/v1beta1/inferenceservices` : this.collection(ns);
    const items: Array<Record<string, unknown>> = [];
    let token: string | null = null;
    for (;;) {
      const query = new URLSearchParams({ limit: String(pageSize), ...(token === null ? {} : { continue: token }) });
      const r = await this.call('GET', `${url}?${query.toString()}`);
      items.push(...((r.items as Array<Record<string, unknown>> | undefined) ?? []));
      const next = (r.metadata as { continue?: unknown } | undefined)?.continue;
      if (typeof next !== 'string' || next === '') return items;
      token = next;
    }
  }

  /**
   * Creates or replaces a runtime catalogue document (`ClusterServingRuntime`, `ServingRuntime`,
   * `LocalLaunchRecipe`) at its Kubernetes-shaped URL.
   */
  async putRuntime(kind: RuntimeKindName, ns: string | null, name: string, body: unknown): Promise<{ status: number; object: Record<string, unknown> }> {
    const n = encodeURIComponent(name);
    const url =
      kind === 'ClusterServingRuntime'
        ? `${this.base}/apis/serving.kserve.io/v1alpha1/clusterservingruntimes/${n}`
        : kind === 'ServingRuntime'
          ? `${this.base}/apis/serving.kserve.io/v1alpha1/namespaces/${encodeURIComponent(ns ?? 'default')}/servingruntimes/${n}`
          : `${this.base}/apis/sluice.dev/v1alpha1/locallaunchrecipes/${n}`;
    return this.callWithStatus('PUT', url, body);
  }

  /** Creates or replaces; `warnings` are the server's `Warning` header texts (fields accepted but not active, …). */
  async put(ns: string, name: string, body: unknown): Promise<{ status: number; object: Record<string, unknown>; warnings: string[] }> {
    return this.callWithStatus('PUT', `${this.collection(ns)}/${encodeURIComponent(name)}`, body);
  }

  /**
   * Applies a traffic command (`POST …/<name>/traffic`) to one component (the predictor unless `component` names
   * another); returns the updated InferenceService.
   */
  async traffic(ns: string, name: string, command: object, component?: string): Promise<Record<string, unknown>> {
    return this.call('POST', `${this.collection(ns)}/${encodeURIComponent(name)}/traffic`, component === undefined ? command : { ...command, component });
  }

  /** Revisions with the exact spec each was made from (`GET …/<name>/revisions`). */
  async revisions(ns: string, name: string): Promise<Array<Record<string, unknown>>> {
    const r = await this.call('GET', `${this.collection(ns)}/${encodeURIComponent(name)}/revisions`);
    return (r.items as Array<Record<string, unknown>>) ?? [];
  }

  async delete(ns: string, name: string): Promise<void> {
    await this.call('DELETE', `${this.collection(ns)}/${encodeURIComponent(name)}`);
  }

  /** `/apis/auth.sluice.dev/v1alpha1/<path>`: API keys and admin tokens (admin role). */
  async authApi(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
    return this.call(method, `${this.base}/apis/auth.sluice.dev/v1alpha1/${path}`, body);
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
