import type { CancelSignal } from '../core/cancel-signal.js';

/**
 * Tells the parts of a request's way that the client went away: the hold queue while the request waits, then
 * the forwarder while it is sent. Lighter than an AbortController per request (thousands may be held at once,
 * and one was measured at ~5 % of the gateway's CPU at saturation): plain listener slots, called once.
 */
export class ClientGone implements CancelSignal {
  private gone = false;
  // A request has at most two listeners at a time (hold queue, then forwarder); a small array beats a Set.
  private listeners: Array<() => void> | null = null;

  get aborted(): boolean {
    return this.gone;
  }

  addEventListener(_type: 'abort', listener: () => void): void {
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const ls = this.listeners;
    if (!ls) return;
    const i = ls.indexOf(listener);
    if (i >= 0) ls.splice(i, 1);
  }

  abort(): void {
    if (this.gone) return;
    this.gone = true;
    const ls = this.listeners;
    this.listeners = null;
    if (ls) for (const l of ls) l();
  }
}
