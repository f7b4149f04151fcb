import { describe, expect, it } from 'vitest';
import { MAX_WARNING_CHARS, MAX_WARNINGS, parseWarningHeader, warningHeaderValues } from './warning-header.js';

describe('Warning header (Kubernetes style)', () => {
  it('formats one 299 value per warning and parses them back from the joined header', () => {
    const texts = ['spec.predictor.batcher is accepted but not active yet: batching, maybe later', 'a "quoted" \\ text'];
    const values = warningHeaderValues(texts);
    expect(values).toEqual([
      '299 - "spec.predictor.batcher is accepted but not active yet: batching, maybe later"',
      '299 - "a \\"quoted\\" \\\\ text"',
    ]);
    expect(parseWarningHeader(values.join(', '))).toEqual(texts);
  });

  it('keeps header values printable ASCII and bounded', () => {
    expect(warningHeaderValues(['naïve\nline'])).toEqual(['299 - "na?ve?line"']);
    const long = warningHeaderValues(['x'.repeat(5000)])[0]!;
    expect(parseWarningHeader(long)[0]).toHaveLength(MAX_WARNING_CHARS);
    const many = warningHeaderValues(Array.from({ length: 50 }, (_, i) => `w${i}`));
    expect(many).toHaveLength(MAX_WARNINGS);
    expect(parseWarningHeader(many.join(', ')).at(-1)).toBe(`${50 - MAX_WARNINGS + 1} more warnings not shown`);
  });

  it('reads values with an agent and a date, and nothing from an absent header', () => {
    expect(parseWarningHeader('299 kube-apiserver "one" "Fri, 04 Dec 2026 18:00:00 GMT", 299 - "two"')).toEqual(['one', 'two']);
    expect(parseWarningHeader(null)).toEqual([]);
  });
});
