import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminCredentials } from './admin-credentials.js';

describe('where the CLI finds the admin token', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-state-'));
  writeFileSync(join(stateDir, 'admin-token'), 'from-the-file-0123456789\n', { mode: 0o600 });

  it('--token, then SLUICE_ADMIN_TOKEN, then the state directory of a local server', () => {
    expect(adminCredentials({ token: 'flag-token-0123456789', stateDir }, { SLUICE_ADMIN_TOKEN: 'env' }).token).toBe('flag-token-0123456789');
    expect(adminCredentials({ stateDir }, { SLUICE_ADMIN_TOKEN: 'env-token-0123456789' }).token).toBe('env-token-0123456789');
    expect(adminCredentials({ stateDir }, {}).token).toBe('from-the-file-0123456789');
    expect(adminCredentials({ server: 'http://localhost:9999' }, { SLUICE_STATE_DIR: stateDir }).token).toBe('from-the-file-0123456789');
    expect(adminCredentials({ server: 'http://[::1]:8081', stateDir }, {}).token).toBe('from-the-file-0123456789');
  });

  it('never sends a token file to a server on another machine', () => {
    const c = adminCredentials({ server: 'http://10.1.2.3:8081', stateDir }, {});
    expect(c.token).toBeNull();
    expect(c.hint).toMatch(/another machine needs its token: pass --token or set SLUICE_ADMIN_TOKEN/);
    expect(adminCredentials({ stateDir }, { SLUICE_SERVER: 'http://sluice.internal:8081' }).token).toBeNull();
  });

  it('says where it looked when there is no token', () => {
    const c = adminCredentials({ stateDir: join(stateDir, 'nope') }, {});
    expect(c.token).toBeNull();
    expect(c.hint).toContain(join(stateDir, 'nope', 'admin-token'));
  });
});
