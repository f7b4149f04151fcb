import { describe, expect, it } from 'vitest';
import { parsePriority } from './priority-header.js';

describe('parsePriority', () => {
  it('is batch only when the header says so; anything else is interactive', () => {
    expect(parsePriority('batch')).toBe('batch');
    expect(parsePriority(' Batch ')).toBe('batch');
    expect(parsePriority(['batch', 'interactive'])).toBe('batch');
    expect(parsePriority('interactive')).toBe('interactive');
    expect(parsePriority('urgent')).toBe('interactive');
    expect(parsePriority(undefined)).toBe('interactive');
  });
});
