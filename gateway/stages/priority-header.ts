import type { Priority } from '../../activator/priority.js';
import type { Exchange } from '../exchange.js';
import type { Stage } from '../stage.js';

/** Header a client may send to choose its class while held (a Sluice extension; see docs/activator.md). */
export const PRIORITY_HEADER = 'x-sluice-priority';

/** Reads a priority header value; anything but `batch` (case-insensitive) is interactive. */
export function parsePriority(value: string | string[] | undefined): Priority {
  const v = Array.isArray(value) ? value[0] : value;
  return v !== undefined && v.trim().toLowerCase() === 'batch' ? 'batch' : 'interactive';
}

/**
 * `onRouted`: the request's priority class from the `x-sluice-priority` header. A stage composed after it (an
 * auth layer mapping API keys to classes) may set `ex.priority` again.
 */
export class PriorityHeader implements Stage {
  readonly name = 'priority-header';

  onRouted(ex: Exchange): void {
    ex.priority = parsePriority(ex.req.headers[PRIORITY_HEADER]);
  }
}
