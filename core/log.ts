import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({ name: opts.name ?? 'sluice', level: opts.level ?? process.env.SLUICE_LOG_LEVEL ?? 'info' });
}

/** A logger that drops everything, for tests and embedded tools. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
