/**
 * Tells the parts of a request's way that the client went away. Lighter than an AbortController per request
 * (thousands may be held at once): one listener slot for the hold queue, and a real AbortSignal made only
 * when the request is forwarded (undici needs one).
 */
export class ClientGone {
  private gone = false;
  private listener: (() => void) | null = null;
  private controller: AbortController | null = null;

  get aborted(): boolean {
    return this.gone;
  }

  /** The hold queue's hook (the shape of AbortSignal's, so either fits AcquireOptions.signal). */
  addEventListener(_type: 'abort', listener: () => void): void {
    this.listener = listener;
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) this.listener = null;
  }

  /** An AbortSignal for the forwarder, aborted when (or if already) the client is gone. */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.gone) this.controller.abort();
    return this.controller.signal;
  }

  abort(): void {
    if (this.gone) return;
    this.gone = true;
    const l = this.listener;
    this.listener = null;
    l?.();
    this.controller?.abort();
  }
}
