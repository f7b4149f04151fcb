/**
 * Splits a child's output stream into lines for the logger without unbounded buffering: a line longer
 * than `maxLineBytes` is cut and passed on in pieces.
 */
import type { Readable } from 'node:stream';

export function forwardLines(stream: Readable, onLine: (line: string) => void, maxLineBytes = 8 * 1024): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '');
      pending = pending.slice(nl + 1);
      if (line) onLine(line.length > maxLineBytes ? `${line.slice(0, maxLineBytes)}…` : line);
    }
    while (pending.length > maxLineBytes) {
      onLine(pending.slice(0, maxLineBytes));
      pending = pending.slice(maxLineBytes);
    }
  });
  stream.on('end', () => {
    if (pending) onLine(pending);
    pending = '';
  });
  stream.on('error', () => undefined);
}
