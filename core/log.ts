import { pino, type DestinationStream, type Logger } from 'pino';
import { SERVE_DEFAULTS } from './config.js';
import { formatLogLine, resolveLogFormat, type LogFormat } from './log-pretty.js';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** `auto` (default): pretty on a terminal, JSON lines otherwise. */
  format?: 'auto' | LogFormat;
  /** Where the lines go (default stdout); for `auto`, whether it is a terminal decides the format. */
  out?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** A pino destination that writes each JSON line as a human line. */
function prettyStream(out: NodeJS.WritableStream, color: boolean): DestinationStream {
  return { write: (line: string) => void out.write(formatLogLine(line, { color })) };
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const out = opts.out ?? process.stdout;
  const format = resolveLogFormat(opts.format ?? 'auto', out.isTTY === true);
  const options = { name: opts.name ?? 'sluice', level: opts.level ?? process.env.SLUICE_LOG_LEVEL ?? SERVE_DEFAULTS.logLevel };
  if (format === 'pretty') return pino(options, prettyStream(out, out.isTTY === true && process.env.NO_COLOR === undefined));
  return opts.out ? pino(options, opts.out as DestinationStream) : pino(options);
}

/** A logger that drops everything, for tests and embedded tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
