/**
 * Priority classes of held requests. When both wait for the same revision, interactive requests are released
 * before batch ones; within a class the order is first in, first out. Requests that name no class are
 * interactive, so batch is an opt-in for callers that can wait.
 */
export type Priority = 'interactive' | 'batch';

export const PRIORITIES: readonly Priority[] = ['interactive', 'batch'];

/** Header a client may send to choose its class. */
export const PRIORITY_HEADER = 'x-sluice-priority';

/** Reads a priority header value; anything but `batch` (case-insensitive) is interactive. */
export function parsePriority(value: string | string[] | undefined): Priority {
  const v = Array.isArray(value) ? value[0] : value;
  return v !== undefined && v.trim().toLowerCase() === 'batch' ? 'batch' : 'interactive';
}
