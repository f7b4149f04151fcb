import { describe, expect, it } from 'vitest';
import { OutcomeRecorder } from './outcome-recorder.js';

describe('OutcomeRecorder', () => {
  it('counts requests and errors since a time, leaves client disconnects out, and subtracts cold-start waits', () => {
    const r = new OutcomeRecorder();
    r.record('a', 1_000, 200, 30, 0);
    r.record('a', 2_000, 503, 10, 0);
    r.record('a', 3_000, 0, 5, 0);
    r.record('a', 4_000, 499, 1, 0);
    r.record('a', 5_000, 200, 2_040, 2_000);
    expect(r.stats('a', 0)).toEqual({ requests: 4, errors: 2, p99Ms: 40 });
    expect(r.stats('a', 2_500)).toEqual({ requests: 2, errors: 1, p99Ms: 40 });
    expect(r.stats('missing', 0)).toEqual({ requests: 0, errors: 0, p99Ms: null });
  });

  it('keeps only the last perRevision outcomes, growing its ring as needed', () => {
    const r = new OutcomeRecorder({ perRevision: 100 });
    for (let i = 0; i < 250; i++) r.record('a', i, i < 200 ? 500 : 200, i, 0);
    const s = r.stats('a', 0);
    expect(s.requests).toBe(100);
    expect(s.errors).toBe(50); // the last 100 are i = 150…249, and i < 200 were 500s
    expect(s.p99Ms).toBe(248);
    expect(r.stats('a', 240).requests).toBe(10);
  });

  it('forgets the revision written least recently beyond maxRevisions', () => {
    const r = new OutcomeRecorder({ maxRevisions: 2 });
    r.record('a', 1, 200, 1, 0);
    r.record('b', 2, 200, 1, 0);
    r.record('a', 3, 200, 1, 0);
    r.record('c', 4, 200, 1, 0);
    expect(r.stats('b', 0).requests).toBe(0);
    expect(r.stats('a', 0).requests).toBe(2);
    expect(r.stats('c', 0).requests).toBe(1);
    r.forget('c');
    r.record('c', 5, 200, 1, 0);
    expect(r.stats('c', 0).requests).toBe(1);
  });
});
