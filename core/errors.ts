import type { ServerResponse } from 'node:http';

/** One problem in a spec, named by its field path (e.g. `spec.predictor.scaleMetric`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** A spec that failed validation. Its message lists every issue, one per line, each led by its field path. */
export class ValidationError extends Error {
  readonly issues: FieldIssue[];

  constructor(issues: FieldIssue[], subject = 'invalid spec') {
    super(`${subject}:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`);
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** An error that maps to an HTTP status (KServe's codes: 400 bad input, 404 unknown model, 503 overloaded, 504 timeout). */
export class HttpError extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.headers = headers;
  }
}

/** The one error writer: `{"error": "…"}` with the given status, as KServe's model servers answer. */
export function writeError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
