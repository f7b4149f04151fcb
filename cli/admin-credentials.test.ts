import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adminCredentials, adminServer } from './admin-credentials.js';

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
    expect(c.hint).toMatch(/another machine needs its token: pass --token, set SLUICE_TOKEN/);
    expect(adminCredentials({ stateDir }, { SLUICE_SERVER: 'http://sluice.internal:8081' }).token).toBeNull();
  });

  it('says where it looked when there is no token', () => {
    const c = adminCredentials({ stateDir: join(stateDir, 'nope') }, {});
    expect(c.token).toBeNull();
    expect(c.hint).toContain(join(stateDir, 'nope', 'admin-token'));
  });

  it('SLUICE_TOKEN before SLUICE_ADMIN_TOKEN; then the current context of the CLI config (YAML or JSON), or one named', () => {
    expect(adminCredentials({ stateDir }, { SLUICE_TOKEN: 'new-env-token-0123456789', SLUICE_ADMIN_TOKEN: 'old-env-token-0123456789' }).token).toBe('new-env-token-0123456789');
    const dir = mkdtempSync(join(tmpdir(), 'sluice-cli-config-'));
    const yaml = join(dir, 'config');
    writeFileSync(
      yaml,
      'current-context: prod\ncontexts:\n  - name: prod\n    server: http://10.1.2.3:8081\n    token: prod-token-0123456789\n  - name: dev\n    server: http://127.0.0.1:9000\n    token: dev-token-0123456789\n',
    );
    const env = { SLUICE_CONFIG: yaml };
    expect(adminServer({}, env)).toBe('http://10.1.2.3:8081');
    expect(adminCredentials({}, env).token).toBe('prod-token-0123456789');
    expect(adminServer({ context: 'dev' }, env)).toBe('http://127.0.0.1:9000');
    expect(adminCredentials({ context: 'dev' }, env).token).toBe('dev-token-0123456789');
    // An explicit server is not the context's: its token is not sent there.
    expect(adminCredentials({ server: 'http://10.9.9.9:8081', stateDir }, env).token).toBeNull();
    expect(() => adminCredentials({ context: 'qa' }, env)).toThrow(/has no context "qa" \(contexts: prod, dev\)/);
    const json = join(dir, 'config.json');
    writeFileSync(json, JSON.stringify({ 'current-context': 'a', contexts: [{ name: 'a', token: 'json-token-0123456789' }] }));
    expect(adminCredentials({ stateDir }, { SLUICE_CONFIG: json }).token).toBe('json-token-0123456789');
  });
});
