/**
 * Priority classes of held requests. When both wait for the same revision, interactive requests are released
 * before batch ones; within a class the order is first in, first out. Requests that name no class are
 * interactive, so batch is an opt-in for callers that can wait. The gateway sets a request's class (its
 * `x-sluice-priority` stage, gateway/stages/priority-header.ts).
 */
export type Priority = 'interactive' | 'batch';

export const PRIORITIES: readonly Priority[] = ['interactive', 'batch'];
