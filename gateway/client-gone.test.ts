import { describe, expect, it } from 'vitest';
import { ClientGone } from './client-gone.js';

describe('ClientGone', () => {
  it('calls the hold queue’s listener once and aborts the forwarder’s signal', () => {
    const gone = new ClientGone();
    const calls: string[] = [];
    gone.addEventListener('abort', () => calls.push('held'));
    const signal = gone.signal;
    expect(signal.aborted).toBe(false);
    gone.abort();
    gone.abort();
    expect(calls).toEqual(['held']);
    expect(gone.aborted).toBe(true);
    expect(signal.aborted).toBe(true);
  });

  it('hands out an already aborted signal after the client left, and forgets a removed listener', () => {
    const gone = new ClientGone();
    const l = (): void => {
      throw new Error('must not be called');
    };
    gone.addEventListener('abort', l);
    gone.removeEventListener('abort', l);
    gone.abort();
    expect(gone.signal.aborted).toBe(true);
  });
});
