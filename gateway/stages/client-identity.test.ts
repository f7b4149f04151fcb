import { describe, expect, it } from 'vitest';
import { clientAddress, normalizeAddress } from './client-identity.js';

describe('client address behind trusted proxies', () => {
  it('ignores X-Forwarded-For with no trusted hop', () => {
    expect(clientAddress('192.0.2.1', '10.0.0.1', 0)).toBe('192.0.2.1');
  });

  it('reads one entry from the right per trusted hop; entries a client wrote itself are never believed', () => {
    // client 198.51.100.7 → proxy A (appends it) → proxy B (appends A) → gateway (peer B)
    expect(clientAddress('10.0.0.2', '198.51.100.7, 10.0.0.1', 2)).toBe('198.51.100.7');
    // the same path with a spoofed entry written by the client: still the address proxy A saw
    expect(clientAddress('10.0.0.2', '1.2.3.4, 198.51.100.7, 10.0.0.1', 2)).toBe('198.51.100.7');
    expect(clientAddress('10.0.0.2', ['1.2.3.4', '198.51.100.7'], 1)).toBe('198.51.100.7');
    // fewer entries than hops: the leftmost there is
    expect(clientAddress('10.0.0.2', '198.51.100.7', 3)).toBe('198.51.100.7');
  });

  it('reads IPv4-mapped IPv6 as IPv4', () => {
    expect(normalizeAddress('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(normalizeAddress('[2001:db8::1]')).toBe('2001:db8::1');
    expect(clientAddress('::ffff:127.0.0.1', undefined, 1)).toBe('127.0.0.1');
  });
});
