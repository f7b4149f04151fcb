import { describe, expect, it } from 'vitest';
import { parseQuantity } from './quantity.js';

describe('parseQuantity', () => {
  it('reads the quantity forms Kubernetes prints', () => {
    expect(parseQuantity('250m')).toBeCloseTo(0.25);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity('1.5')).toBe(1.5);
    expect(parseQuantity('300Mi')).toBe(300 * 2 ** 20);
    expect(parseQuantity('2Gi')).toBe(2 * 2 ** 30);
    expect(parseQuantity('500M')).toBe(5e8);
    expect(parseQuantity('1e3')).toBe(1000);
    expect(parseQuantity('100k')).toBe(1e5);
    expect(parseQuantity('12345678n')).toBeCloseTo(0.012345678);
    expect(parseQuantity(3)).toBe(3);
  });

  it('rejects what is not a quantity', () => {
    expect(() => parseQuantity('2 cores')).toThrow('invalid quantity "2 cores"');
    expect(() => parseQuantity('Gi')).toThrow();
  });
});
