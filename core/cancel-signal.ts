/**
 * The part of AbortSignal that Sluice's request path uses: "has the client gone, and tell me when it goes".
 * An AbortSignal fits it; so does the gateway's lighter ClientGone, which costs no AbortController per request.
 */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}
