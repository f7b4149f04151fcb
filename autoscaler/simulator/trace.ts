/** One request of a trace: when it arrives and how long a replica takes to serve it. */
export interface TraceRequest {
  arrivalMs: number;
  durationMs: number;
  tag?: string;
}

export class TraceFormatError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`trace line ${line}: ${message}`);
    this.name = 'TraceFormatError';
  }
}

/** Most requests a trace may hold (the simulator keeps every wait time in memory). */
export const MAX_TRACE_REQUESTS = 2_000_000;

/**
 * Parses a CSV trace (docs/simulator.md): header `arrival_ms,duration_ms[,tag]`, then one request per line,
 * arrival in milliseconds from the start of the trace (non-decreasing), service time in milliseconds.
 * Blank lines and lines starting with `#` are ignored.
 */
export function parseTrace(text: string): TraceRequest[] {
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length && (lines[i]!.trim() === '' || lines[i]!.trim().startsWith('#'))) i++;
  const header = (lines[i] ?? '').trim().split(',').map((h) => h.trim().toLowerCase());
  if (header[0] !== 'arrival_ms' || header[1] !== 'duration_ms' || header.length > 3 || (header.length === 3 && header[2] !== 'tag'))
    throw new TraceFormatError(i + 1, 'header must be "arrival_ms,duration_ms" or "arrival_ms,duration_ms,tag"');
  const out: TraceRequest[] = [];
  let last = 0;
  for (let n = i + 1; n < lines.length; n++) {
    const raw = lines[n]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    const cols = raw.split(',');
    if (cols.length < 2 || cols.length > 3) throw new TraceFormatError(n + 1, `expected 2 or 3 columns, got ${cols.length}`);
    const arrivalMs = Number(cols[0]);
    const durationMs = Number(cols[1]);
    if (!Number.isFinite(arrivalMs) || arrivalMs < 0) throw new TraceFormatError(n + 1, `arrival_ms must be a number ≥ 0, got "${cols[0]}"`);
    if (!Number.isFinite(durationMs) || durationMs < 0) throw new TraceFormatError(n + 1, `duration_ms must be a number ≥ 0, got "${cols[1]}"`);
    if (arrivalMs < last) throw new TraceFormatError(n + 1, `arrival_ms must not decrease (${arrivalMs} after ${last})`);
    last = arrivalMs;
    const req: TraceRequest = { arrivalMs, durationMs };
    if (cols.length === 3 && cols[2]!.trim() !== '') req.tag = cols[2]!.trim();
    out.push(req);
    if (out.length > MAX_TRACE_REQUESTS) throw new TraceFormatError(n + 1, `more than ${MAX_TRACE_REQUESTS} requests`);
  }
  return out;
}

export function formatTrace(reqs: readonly TraceRequest[]): string {
  const tagged = reqs.some((r) => r.tag !== undefined);
  const rows = reqs.map((r) => `${Math.round(r.arrivalMs)},${Math.round(r.durationMs)}${tagged ? `,${r.tag ?? ''}` : ''}`);
  return `${tagged ? 'arrival_ms,duration_ms,tag' : 'arrival_ms,duration_ms'}\n${rows.join('\n')}\n`;
}
