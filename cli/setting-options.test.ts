import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { SETTINGS, SETTING_KEYS } from '../core/config-table.js';
import { resolveServeConfig, SERVE_DEFAULTS, type ServeConfig } from '../core/config.js';
import { envName, type Role, type Setting } from '../core/setting-kinds.js';
import { addSettingOptions, configFromCommand } from './setting-options.js';

/** A config file in a fresh folder. */
function file(text: string, name = 'sluice.yaml'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sluice-config-file-')), name);
  writeFileSync(path, text);
  return path;
}

/** The configuration a command line and an environment give, as `sluice <role>` reads it. */
async function load(args: string[], env: NodeJS.ProcessEnv = {}, role: Role = 'serve'): Promise<ServeConfig> {
  let config: ServeConfig | null = null;
  const cmd = addSettingOptions(new Command(role).exitOverride(), role).action(async (_o: unknown, c: Command) => {
    config = await configFromCommand(c, role, env);
  });
  await cmd.parseAsync(args, { from: 'user' });
  if (config === null) throw new Error('the action did not run');
  return config;
}

async function errorOf(f: () => Promise<unknown>): Promise<string> {
  try {
    await f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('the configuration table', () => {
  it('every default passes its own row, and the defaults are the table', async () => {
    for (const key of SETTING_KEYS) {
      const s = SETTINGS[key] as Setting<unknown>;
      expect(s.check(s.default), key).toEqual({ ok: true, value: s.default });
    }
    expect(resolveServeConfig({})).toEqual(SERVE_DEFAULTS);
    expect(await load([])).toEqual(SERVE_DEFAULTS);
  });

  it('derives each environment variable from the key', async () => {
    expect(envName('dataPort')).toBe('SLUICE_DATA_PORT');
    expect(envName('maxHeldBytesPerRevision')).toBe('SLUICE_MAX_HELD_BYTES_PER_REVISION');
    expect(envName('activatorProbeIntervalMs')).toBe('SLUICE_ACTIVATOR_PROBE_INTERVAL_MS');
    expect(envName('python')).toBe('SLUICE_PYTHON');
  });
});

describe('where a setting comes from: flag > --set > environment > config file > default', () => {
  const cfg = file('dataPort: 1001\nmaxHeldTotal: 5\ndomain: file.example\nmaxHeldPerRevision: "7"\nruntimes: [a, b]\nwatch: false\n');
  const env = { SLUICE_DATA_PORT: '1002', SLUICE_MAX_HELD_TOTAL: '6', SLUICE_RUNTIMES: 'c,d' };

  it('takes each setting from the highest source that gives it', async () => {
    const c = await load(['--config-file', cfg, '--set', 'dataPort=1003', 'maxHeldBytesTotal=4096', '--data-port', '1004'], env);
    expect(c.dataPort).toBe(1004); // flag over --set, env and file
    expect(c.maxHeldBytesTotal).toBe(4096); // --set
    expect(c.maxHeldTotal).toBe(6); // env over file
    expect(c.domain).toBe('file.example'); // file over default
    expect(c.maxHeldPerRevision).toBe(7); // a quoted number in the file is read as a number
    expect(c.watch).toBe(false);
    expect(c.maxConnections).toBe(SERVE_DEFAULTS.maxConnections); // default
    expect((await load(['--config-file', cfg, '--set', 'dataPort=1003'], env)).dataPort).toBe(1003);
    expect((await load(['--config-file', cfg], env)).dataPort).toBe(1002);
    expect((await load(['--config-file', cfg])).dataPort).toBe(1001);
    expect((await load(['--config-file', cfg], env, 'controller')).runtimes).toEqual(['c', 'd']);
    expect((await load(['--config-file', cfg], {}, 'controller')).runtimes).toEqual(['a', 'b']);
  });

  it('finds the config file through SLUICE_CONFIG_FILE too; --config (the specs folder) is a setting of its own', async () => {
    expect((await load([], { SLUICE_CONFIG_FILE: cfg })).dataPort).toBe(1001);
    const c = await load(['--config', '/srv/models', '--no-watch'], { SLUICE_CONFIG_FILE: cfg });
    expect(c.configDir).toBe('/srv/models');
    expect(c.watch).toBe(false);
  });

  it('reads the hold bounds, which have no flag of their own, from every source', async () => {
    expect((await load([], { SLUICE_MAX_HELD_PER_REVISION: '12' })).maxHeldPerRevision).toBe(12);
    expect((await load(['--config-file', file('maxHeldBytesPerRevision: 1024\n')])).maxHeldBytesPerRevision).toBe(1024);
    expect((await load(['--set', 'maxHeldTotal=99'])).maxHeldTotal).toBe(99);
  });

  it('reads memory as bytes or a quantity from a flag and from the environment', async () => {
    expect((await load(['--replica-memory-budget', '8Gi'])).replicaMemoryBudget).toBe(8 * 2 ** 30);
    expect((await load([], { SLUICE_REPLICA_MEMORY_DEFAULT: '1000' })).replicaMemoryDefault).toBe(1000);
    expect(await errorOf(() => load([], { SLUICE_REPLICA_MEMORY_BUDGET: 'lots' }))).toContain(
      'SLUICE_REPLICA_MEMORY_BUDGET=lots: replicaMemoryBudget must be a positive number of bytes or a quantity such as 8Gi, got "lots"',
    );
  });

  it('the cluster roles read the same table: environment, file and their flags', async () => {
    const c = await load(['--config-file', file('redisUrl: redis://file:6379\nstableWindowSeconds: 90\n'), '--group', 'serving.kserve.io'], { SLUICE_DOMAIN: 'svc.example' }, 'gateway');
    expect(c).toMatchObject({ redisUrl: 'redis://file:6379', stableWindowSeconds: 90, group: 'serving.kserve.io', domain: 'svc.example' });
  });
});

describe('a bad value stops the start naming its source, the setting and the allowed range', () => {
  it('from an environment variable', async () => {
    expect(await errorOf(() => load([], { SLUICE_DATA_PORT: '70000' }))).toContain('SLUICE_DATA_PORT=70000: dataPort must be ≤ 65535 (allowed: integer 0–65535)');
    expect(await errorOf(() => load([], { SLUICE_MAX_HELD_TOTAL: 'lots' }))).toContain('SLUICE_MAX_HELD_TOTAL=lots: maxHeldTotal must be a number (allowed: integer ≥ 1)');
  });

  it('from a flag and from --set', async () => {
    expect(await errorOf(() => load(['--data-port', '-1']))).toContain('--data-port -1: dataPort must be ≥ 0 (allowed: integer 0–65535)');
    expect(await errorOf(() => load(['--log-level', 'loud']))).toContain('--log-level loud: logLevel must be one of trace, debug, info, warn, error, fatal, silent');
    expect(await errorOf(() => load(['--set', 'tickSeconds=0']))).toContain('--set tickSeconds=0: tickSeconds must be > 0 (allowed: number > 0)');
    expect(await errorOf(() => load(['--set', 'panicThresholdPercent=100']))).toContain('panicThresholdPercent must be ≥ 110 (allowed: number 110–1000)');
  });

  it('from the config file, every bad value at once', async () => {
    const path = file('dataPort: 70000\nmaxHeldTotal: 1.5\nscaleToZeroGraceSeconds:\n');
    const message = await errorOf(() => load(['--config-file', path]));
    expect(message).toContain(`${path}: dataPort: 70000: dataPort must be ≤ 65535 (allowed: integer 0–65535)`);
    expect(message).toContain(`${path}: maxHeldTotal: 1.5: maxHeldTotal must be an integer (allowed: integer ≥ 1)`);
    expect(message).toContain(`${path}: scaleToZeroGraceSeconds: null: scaleToZeroGraceSeconds must be a number (allowed: number ≥ 0)`);
  });

  it('never echoes the admin token', async () => {
    const message = await errorOf(() => load([], { SLUICE_ADMIN_TOKEN: 'secret but short' }));
    expect(message).toContain('SLUICE_ADMIN_TOKEN=<hidden>: adminToken must be 16 to 512 characters');
    expect(message).not.toContain('secret');
  });
});

describe('unknown keys are refused with the known keys listed', () => {
  it('in the config file', async () => {
    const path = file('dataPort: 9000\nmaxHeldPerRevison: 5\n');
    const message = await errorOf(() => load(['--config-file', path]));
    expect(message).toContain(`${path}: maxHeldPerRevison: unknown setting "maxHeldPerRevison"; known: `);
    for (const key of SETTING_KEYS) expect(message).toContain(key);
  });

  it('in --set', async () => {
    expect(await errorOf(() => load(['--set', 'dataPrt=1']))).toMatch(/--set dataPrt: unknown setting "dataPrt"; known: configDir, watch, dataHost, dataPort/);
  });

  it('a file that is not a mapping, or not YAML, is refused naming the file', async () => {
    const list = file('- dataPort: 1\n');
    expect(await errorOf(() => load(['--config-file', list]))).toContain(`${list}: must be a mapping of settings`);
    const broken = file('dataPort: [1\n');
    expect(await errorOf(() => load(['--config-file', broken]))).toContain(`${broken}: not valid YAML`);
    expect(await errorOf(() => load(['--config-file', '/nonexistent/sluice.yaml']))).toContain('/nonexistent/sluice.yaml: cannot read the config file');
  });

  it('unknown SLUICE_* variables are not settings and are left alone', async () => {
    expect(await load([], { SLUICE_SERVER: 'http://127.0.0.1:8081', SLUICE_TEST_SKIP_BUILD: '1' })).toEqual(SERVE_DEFAULTS);
  });
});

describe('SLUICE_* variables nothing reads', () => {
  async function warnings(env: NodeJS.ProcessEnv): Promise<string[]> {
    const lines: string[] = [];
    const cmd = addSettingOptions(new Command('serve').exitOverride(), 'serve').action(async (_o: unknown, c: Command) => {
      await configFromCommand(c, 'serve', env, (line) => lines.push(line));
    });
    await cmd.parseAsync([], { from: 'user' });
    return lines;
  }

  it('a misspelt setting is named with the variable it was probably meant to be, and the rest still loads', async () => {
    const lines = await warnings({ SLUICE_DATAPORT: '9000', SLUICE_SHUTDOWN_GRACE_SECONDS: '5' });
    expect(lines).toEqual([
      'Warning: SLUICE_DATAPORT is not a Sluice setting and is ignored (did you mean SLUICE_DATA_PORT?); the settings are in docs/configuration.md\n',
    ]);
  });

  it('a name far from every setting gets no guess', async () => {
    expect(await warnings({ SLUICE_FROBNICATE_EVERYTHING: '1' })).toEqual([
      'Warning: SLUICE_FROBNICATE_EVERYTHING is not a Sluice setting and is ignored; the settings are in docs/configuration.md\n',
    ]);
  });

  it('settings and the variables other parts read (credentials, demo runtime, tests) are not warned about', async () => {
    const env: NodeJS.ProcessEnv = { SLUICE_TOKEN: 't', SLUICE_ADMIN_TOKEN: 't', SLUICE_DEMO_LATENCY_MS: '5', SLUICE_TEST_SKIP_BUILD: '1', PATH: '/bin' };
    for (const key of SETTING_KEYS) env[envName(key)] = undefined;
    env[envName('dataPort')] = '9000';
    expect(await warnings(env)).toEqual([]);
  });
});
