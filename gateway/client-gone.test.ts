import { describe, expect, it } from 'vitest';
import { ClientGone } from './client-gone.js';

describe('ClientGone', () => {
  it('calls every listener once, in order, when the client leaves', () => {
    const gone = new ClientGone();
    const calls: string[] = [];
    gone.addEventListener('abort', () => calls.push('held'));
    gone.addEventListener('abort', () => calls.push('forwarding'));
    expect(gone.aborted).toBe(false);
    gone.abort();
    gone.abort();
    expect(calls).toEqual(['held', 'forwarding']);
    expect(gone.aborted).toBe(true);
  });

  it('forgets a removed listener and keeps the others', () => {
    const gone = new ClientGone();
    const calls: string[] = [];
    const l = (): void => {
      throw new Error('must not be called');
    };
    gone.addEventListener('abort', l);
    gone.addEventListener('abort', () => calls.push('kept'));
    gone.removeEventListener('abort', l);
    gone.removeEventListener('abort', l);
    gone.abort();
    expect(calls).toEqual(['kept']);
  });
});
