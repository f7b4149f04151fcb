/**
 * `sluice auth keys create|list|revoke` and `sluice auth tokens create --role` as a user runs them, against a real
 * `sluice serve` process: the key is printed once, lists never show it, the gateway refuses it once revoked, and
 * keys survive a restart (kept hashed in the state directory). A viewer token given through SLUICE_TOKEN or a
 * CLI config context cannot apply.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoService } from '../support/embedded.js';
import { SLUICE_ROOT } from '../support/paths.js';
import { startServe, type ServeProcess } from '../support/serve-process.js';

const run = promisify(execFile);
const CLI = join(SLUICE_ROOT, 'dist', 'cli', 'main.js');

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const clean: NodeJS.ProcessEnv = { ...process.env, SLUICE_CONFIG: join(tmpdir(), 'no-such-sluice-config'), ...env };
  for (const k of ['SLUICE_TOKEN', 'SLUICE_ADMIN_TOKEN', 'SLUICE_SERVER', 'SLUICE_CONTEXT']) if (!(k in env)) delete clean[k];
  try {
    const r = await run(process.execPath, [CLI, ...args], { cwd: SLUICE_ROOT, env: clean });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('sluice auth keys / tokens against sluice serve', () => {
  let s: ServeProcess;
  let stateDir: string;
  let configDir: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'sluice-state-'));
    configDir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
    writeFileSync(join(configDir, 'iris.yaml'), demoService('iris', { annotations: { 'sluice.dev/auth': 'api-key', 'autoscaling.knative.dev/initial-scale': '0' } }));
    writeFileSync(join(configDir, 'runtime.yaml'), readFileSync(join(SLUICE_ROOT, 'examples', 'runtimes', 'sluice-demo.yaml')));
    s = await startServe(stateDir, ['--config', configDir]);
  }, 60_000);

  afterAll(async () => {
    if (s && s.child.exitCode === null) {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  const target = (): string[] => ['--server', s.adminUrl, '--state-dir', stateDir];
  const predict = (key?: string): Promise<Response> =>
    fetch(`${s.dataUrl}/v1/models/iris:predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      body: '{"instances":[[1,2,3,4]]}',
    });

  it('creates a key (printed once on stdout), lists it without the key, and the gateway refuses it after revoke', async () => {
    const created = await cli(['auth', 'keys', 'create', 'ci-bot', '--scope', 'default/iris', ...target()]);
    expect(created.code, created.stderr).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^sk-sluice-([0-9a-f]{16})\.[A-Za-z0-9_-]{43}$/);
    const id = key.slice('sk-sluice-'.length, key.indexOf('.'));
    expect(created.stderr).toContain(`created API key ${id} (ci-bot) for default/iris; it is shown only now`);

    const list = await cli(['auth', 'keys', 'list', ...target()]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^ID\\s+NAME\\s+SCOPES\\s+AGE\\n${id}\\s+ci-bot\\s+default/iris\\s+\\d+s\\n$`));
    expect(list.stdout).not.toContain(key);

    // Refused without the key, let through with it (the revision at zero then starts: a 200 or a hold).
    expect((await predict()).status).toBe(401);
    expect((await predict(key)).status).toBe(200);

    const revoked = await cli(['auth', 'keys', 'revoke', id, ...target()]);
    expect(revoked).toMatchObject({ code: 0, stdout: `API key ${id} revoked\n` });
    expect((await predict(key)).status).toBe(401);
    const again = await cli(['auth', 'keys', 'revoke', id, ...target()]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`apikeys "${id}" not found`);
  }, 60_000);

  it('says what is missing: a key without --scope, a token without --role', async () => {
    const noScope = await cli(['auth', 'keys', 'create', 'x', ...target()]);
    expect(noScope.code).not.toBe(0);
    expect(noScope.stderr).toContain('--scope <namespace>[/<service>]');
    const noRole = await cli(['auth', 'tokens', 'create', 'x', ...target()]);
    expect(noRole.stderr).toContain('--role viewer|operator|admin');
  });

  it('a viewer token (SLUICE_TOKEN, or a context of the CLI config) lists but cannot apply: 403 naming the role', async () => {
    const made = await cli(['auth', 'tokens', 'create', 'dash', '--role', 'viewer', ...target()]);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^st-sluice-/);
    const get = await cli(['get', 'isvc', '--server', s.adminUrl], { SLUICE_TOKEN: token });
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/\niris\s/);
    const apply = await cli(['apply', '-f', join(configDir, 'iris.yaml'), '--server', s.adminUrl], { SLUICE_TOKEN: token });
    expect(apply.code).not.toBe(0);
    expect(apply.stderr).toContain('role "viewer" (token:dash) may not apply: that needs the "admin" role');
    const keys = await cli(['auth', 'keys', 'list', '--server', s.adminUrl], { SLUICE_TOKEN: token });
    expect(keys.stderr).toContain('may not manage API keys and admin tokens');

    const cfg = join(mkdtempSync(join(tmpdir(), 'sluice-cli-')), 'config');
    writeFileSync(cfg, `current-context: local\ncontexts:\n  - name: local\n    server: ${s.adminUrl}\n    token: ${token}\n`, { mode: 0o600 });
    const viaContext = await cli(['get', 'isvc'], { SLUICE_CONFIG: cfg });
    expect(viaContext.code, viaContext.stderr).toBe(0);
    expect(viaContext.stdout).toMatch(/\niris\s/);
  }, 60_000);

  it('keeps keys across a restart (hashed in the state directory)', async () => {
    const created = await cli(['auth', 'keys', 'create', 'survivor', '--scope', 'default', ...target()]);
    const key = created.stdout.trim();
    s.child.kill('SIGTERM');
    await s.exited;
    s = await startServe(stateDir, ['--config', configDir]);
    expect((await predict(key)).status).toBe(200);
    const list = await cli(['auth', 'keys', 'list', '-o', 'json', ...target()]);
    expect((JSON.parse(list.stdout) as { items: Array<{ name: string }> }).items.map((i) => i.name)).toEqual(['survivor']);
  }, 90_000);
});
