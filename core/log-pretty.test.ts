import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { formatLogLine, resolveLogFormat } from './log-pretty.js';

const T = Date.parse('2026-12-04T17:08:49.704Z');

describe('pretty log lines', () => {
  it('shows time, level, role, message, then the fields as key=value', () => {
    const line = JSON.stringify({ level: 30, time: T, pid: 1, hostname: 'vm', name: 'sluice', role: 'controller', service: 'default/iris', revision: 'iris-predictor-00001', msg: 'revision created' });
    expect(formatLogLine(line, { color: false, utc: true })).toBe('17:08:49.704 INFO  [controller] revision created  service=default/iris revision=iris-predictor-00001\n');
  });

  it('quotes values with spaces, writes objects as JSON, colours the level on request, and indents an error stack', () => {
    const line = JSON.stringify({ level: 50, time: T, msg: 'replica failed', reason: 'exit code 1', ports: { data: 8080 }, err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at f (a.js:1:1)' } });
    expect(formatLogLine(line, { color: true, utc: true })).toBe(
      '17:08:49.704 \x1b[31mERROR\x1b[0m replica failed  reason="exit code 1" ports={"data":8080} err=boom\n    at f (a.js:1:1)\n',
    );
  });

  it('passes a line that is not JSON through unchanged', () => {
    expect(formatLogLine('not json', { color: false })).toBe('not json\n');
  });

  it('formats what pino writes', () => {
    const out: string[] = [];
    const logger = pino({ name: 'sluice' }, { write: (s: string) => void out.push(formatLogLine(s, { color: false, utc: true })) });
    logger.child({ role: 'gateway' }).warn({ limit: 'maxHeldTotal' }, 'request refused');
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  \[gateway\] request refused {2}limit=maxHeldTotal\n$/);
  });

  it('auto is pretty on a terminal and JSON otherwise', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });
});
