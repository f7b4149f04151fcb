/**
 * Human-readable log lines for a terminal: pino writes one JSON object per line; this turns each into
 * `17:08:49.704 INFO  [controller] revision created  service=default/iris revision=iris-predictor-00001`.
 */

export type LogFormat = 'json' | 'pretty';

/** `auto` is pretty when the logs go to a terminal, JSON otherwise (files, pipes, log collectors). */
export function resolveLogFormat(setting: 'auto' | LogFormat, toTerminal: boolean): LogFormat {
  return setting === 'auto' ? (toTerminal ? 'pretty' : 'json') : setting;
}

export interface PrettyOptions {
  /** ANSI colours for the level. */
  color: boolean;
  /** Times in UTC instead of local time (tests). */
  utc?: boolean;
}

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: 'TRACE', color: '90' },
  20: { name: 'DEBUG', color: '90' },
  30: { name: 'INFO', color: '32' },
  40: { name: 'WARN', color: '33' },
  50: { name: 'ERROR', color: '31' },
  60: { name: 'FATAL', color: '31' },
};

/** Fields every line has, shown in their own places or not at all. */
const OMITTED = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'name', 'role', 'v']);

function clock(ms: number, utc: boolean): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  const [h, m, s, milli] = utc
    ? [d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()]
    : [d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds()];
  return `${two(h)}:${two(m)}:${two(s)}.${String(milli).padStart(3, '0')}`;
}

/** `key=value`, with the value quoted when it would otherwise be ambiguous. */
function pair(key: string, value: unknown): string {
  if (typeof value === 'string') return `${key}=${/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return `${key}=${String(value)}`;
  return `${key}=${JSON.stringify(value)}`;
}

/** One pino JSON line → one human line (plus an error's stack, indented). Lines that are not JSON pass unchanged. */
export function formatLogLine(line: string, o: PrettyOptions): string {
  let rec: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(line);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return line.endsWith('\n') ? line : `${line}\n`;
    rec = parsed as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const level = LEVELS[typeof rec.level === 'number' ? rec.level : 30] ?? { name: String(rec.level), color: '0' };
  const levelText = level.name.padEnd(5);
  const parts = [
    typeof rec.time === 'number' ? clock(rec.time, o.utc === true) : '',
    o.color ? `\x1b[${level.color}m${levelText}\x1b[0m` : levelText,
  ];
  if (typeof rec.role === 'string') parts.push(`[${rec.role}]`);
  parts.push(typeof rec.msg === 'string' ? rec.msg : '');
  let stack = '';
  const fields: string[] = [];
  for (const [k, v] of Object.entries(rec)) {
    if (OMITTED.has(k)) continue;
    if (k === 'err' && v !== null && typeof v === 'object') {
      const e = v as { message?: unknown; stack?: unknown };
      fields.push(pair('err', typeof e.message === 'string' ? e.message : JSON.stringify(v)));
      if (typeof e.stack === 'string') stack = e.stack.split('\n').slice(1).map((l) => `    ${l.trim()}\n`).join('');
      continue;
    }
    fields.push(pair(k, v));
  }
  const head = parts.filter(Boolean).join(' ');
  return `${fields.length > 0 ? `${head}  ${fields.join(' ')}` : head}\n${stack}`;
}
