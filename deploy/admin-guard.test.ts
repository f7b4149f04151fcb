import { describe, expect, it } from 'vitest';
import { allowedHostNames, isLoopbackAddress, tokensEqual } from './admin-guard.js';

describe('admin guard', () => {
  it('compares tokens of any length without throwing', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('', 'abc')).toBe(false);
    expect(tokensEqual('abc'.repeat(100), 'abc')).toBe(false);
  });

  it('knows loopback listen addresses', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopbackAddress(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.5', 'example.com', '']) expect(isLoopbackAddress(h)).toBe(false);
  });

  it("accepts the listener's own name and the allowed hosts, never a wildcard", () => {
    expect([...allowedHostNames('0.0.0.0', '')]).toEqual([]);
    expect([...allowedHostNames('::', 'Sluice.Internal,admin.example.com')]).toEqual(['sluice.internal', 'admin.example.com']);
    expect([...allowedHostNames('10.0.0.5', '')]).toEqual(['10.0.0.5']);
    expect([...allowedHostNames('fd00::5', '')]).toEqual(['[fd00::5]']);
  });
});
