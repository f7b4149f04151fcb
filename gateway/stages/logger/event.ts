/**
 * One request/response log event, and its two encodings: CloudEvents 1.0 HTTP binary mode (attributes as `ce-*`
 * headers, the payload as the body) for an HTTP sink, and the CloudEvents JSON format (one object per line) for a
 * file sink. Built by hand: a few headers, no SDK on the gateway's path.
 */

export const REQUEST_TYPE = 'org.kubeflow.serving.inference.request';
export const RESPONSE_TYPE = 'org.kubeflow.serving.inference.response';

export interface LogEvent {
  /** The sink's URL (`http(s)://…` or `file:///…`). */
  readonly sink: string;
  /** The request id, shared by the request's and the response's events. */
  readonly id: string;
  readonly type: typeof REQUEST_TYPE | typeof RESPONSE_TYPE;
  readonly source: string;
  /** When it happened (ms since the epoch): the request's arrival, or the response's end. */
  readonly time: number;
  /** The payload's content type (the response event carries the response's), null when there is no payload. */
  readonly contentType: string | null;
  /** The payload as it was teed, in pieces (joined only when it is delivered). */
  readonly chunks: readonly Buffer[];
  /** Bytes in `chunks`. */
  readonly size: number;
  /** Extension attributes: names lowercase a-z0-9 only, as CloudEvents requires (Knative answers 400 to others). */
  readonly extensions: Readonly<Record<string, string>>;
}

/** Bytes an event holds while queued: its payload plus 1 KiB for its attributes and objects (measured ≈ 1–2 KiB). */
export function eventBytes(ev: LogEvent): number {
  return ev.size + 1024;
}

/** The payload in one buffer. */
export function payloadOf(ev: LogEvent): Buffer {
  return ev.chunks.length === 1 ? ev.chunks[0]! : Buffer.concat(ev.chunks as Buffer[], ev.size);
}

/** CloudEvents HTTP binary mode: the attributes as headers (values are kept to printable ASCII by the stage). */
export function binaryHeaders(ev: LogEvent): Record<string, string> {
  const h: Record<string, string> = {
    'ce-specversion': '1.0',
    'ce-id': ev.id,
    'ce-type': ev.type,
    'ce-source': ev.source,
    'ce-time': new Date(ev.time).toISOString(),
  };
  if (ev.contentType !== null) h['content-type'] = ev.contentType;
  for (const k in ev.extensions) h[`ce-${k}`] = ev.extensions[k]!;
  return h;
}

/**
 * The CloudEvents JSON format of the event, as one line: a JSON payload (by its content type) is embedded as
 * `data` when it parses (not when truncated), anything else is `data_base64`.
 */
export function jsonLine(ev: LogEvent): string {
  const out: Record<string, unknown> = {
    specversion: '1.0',
    id: ev.id,
    type: ev.type,
    source: ev.source,
    time: new Date(ev.time).toISOString(),
  };
  if (ev.contentType !== null) out['datacontenttype'] = ev.contentType;
  Object.assign(out, ev.extensions);
  if (ev.size > 0) {
    const body = payloadOf(ev);
    let data: unknown;
    let isJson = false;
    if (ev.contentType !== null && /[/+]json\b/i.test(ev.contentType) && ev.extensions['truncated'] !== 'true') {
      try {
        data = JSON.parse(body.toString('utf8'));
        isJson = true;
      } catch {
        isJson = false;
      }
    }
    if (isJson) out['data'] = data;
    else out['data_base64'] = body.toString('base64');
  }
  return `${JSON.stringify(out)}\n`;
}
