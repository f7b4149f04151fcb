import { chmodSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveServeConfig } from '../core/config.js';
import { adminTokenFor, checkAdminExposure } from './admin-token.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'sluice-state-'));

describe('the admin token of sluice serve', () => {
  it('is generated into admin-token (0600) once, then reused', () => {
    const d = dir();
    const first = adminTokenFor({ adminToken: '' }, d);
    expect(first).toMatchObject({ origin: 'generated', file: join(d, 'admin-token') });
    expect(statSync(join(d, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(d, 'admin-token'), 'utf8')).toBe(`${first.token}\n`);
    expect(adminTokenFor({ adminToken: '' }, d)).toMatchObject({ origin: 'reused', token: first.token });
  });

  it('is replaced when the file could have been read by others, or is not a token', () => {
    const d = dir();
    writeFileSync(join(d, 'admin-token'), 'readable-by-all-0123456789\n');
    chmodSync(join(d, 'admin-token'), 0o644);
    const t = adminTokenFor({ adminToken: '' }, d);
    expect(t.origin).toBe('generated');
    expect(t.token).not.toBe('readable-by-all-0123456789');
    expect(t.replacedReason).toMatch(/could be read by other users \(mode 644\)/);
    expect(statSync(join(d, 'admin-token')).mode & 0o777).toBe(0o600);
    writeFileSync(join(d, 'admin-token'), 'short\n', { mode: 0o600 });
    expect(adminTokenFor({ adminToken: '' }, d).replacedReason).toMatch(/does not hold a well-formed token/);
  });

  it('an explicit token is used as is and written nowhere', () => {
    const d = dir();
    expect(adminTokenFor({ adminToken: 'explicit-0123456789abcdef' }, d)).toEqual({ token: 'explicit-0123456789abcdef', file: null, origin: 'explicit' });
    expect(existsSync(join(d, 'admin-token'))).toBe(false);
  });

  it('off loopback, an explicit token is required', () => {
    expect(() => checkAdminExposure({ adminHost: '127.0.0.1', adminToken: '' })).not.toThrow();
    expect(() => checkAdminExposure({ adminHost: 'localhost', adminToken: '' })).not.toThrow();
    expect(() => checkAdminExposure({ adminHost: '::', adminToken: '' })).toThrow(/--admin-host :: would let other machines reach the admin API/);
    expect(() => checkAdminExposure({ adminHost: '10.0.0.5', adminToken: 'explicit-0123456789abcdef' })).not.toThrow();
  });

  it('a malformed token setting is refused naming the setting, not the value', () => {
    let message = '';
    try {
      resolveServeConfig({ adminToken: 'secret but short' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/serve\.adminToken: must be 16 to 512 characters/);
    expect(message).not.toContain('secret');
    expect(() => resolveServeConfig({ adminAllowedHosts: 'admin.example.com:8081' })).toThrow(/serve\.adminAllowedHosts: must be host names/);
  });
});
