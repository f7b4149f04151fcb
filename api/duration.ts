/** Go-style durations as Knative annotations use them: `60s`, `1m30s`, `1h`, `500ms`. */

const UNIT_SECONDS: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

const PART_SOURCE = '(\\d+(?:\\.\\d+)?)(ns|us|µs|ms|s|m|h)';

/** Seconds for a Go duration string, or null when it is not one. `0` alone is accepted as zero. */
export function parseDurationSeconds(text: string): number | null {
  if (text === '0') return 0;
  if (text === '') return null;
  const part = new RegExp(PART_SOURCE, 'y');
  let total = 0;
  let pos = 0;
  while (pos < text.length) {
    part.lastIndex = pos;
    const m = part.exec(text);
    if (m === null || m[1] === undefined || m[2] === undefined) return null;
    total += Number(m[1]) * (UNIT_SECONDS[m[2]] ?? Number.NaN);
    pos = part.lastIndex;
  }
  return Number.isFinite(total) ? total : null;
}
