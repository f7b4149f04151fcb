import { ValidationError, type FieldIssue } from './errors.js';
import { SETTINGS, SETTING_KEYS, type SettingKey } from './config-table.js';
import { envName, fromText, type Setting } from './setting-kinds.js';

export { DEFAULT_MAX_REPLICAS_TOTAL, DEFAULT_REPLICA_MEMORY_BUDGET } from './config-table.js';

type Settings = typeof SETTINGS;

/** The resolved configuration of `sluice serve` or a cluster role: one value per row of core/config-table.ts. */
export type ServeConfig = { -readonly [K in SettingKey]: Settings[K]['default'] extends readonly string[] ? string[] : Settings[K]['default'] };

/** Every default, read from the table (the only place one is written). */
export const SERVE_DEFAULTS: Readonly<ServeConfig> = Object.freeze(
  Object.fromEntries(SETTING_KEYS.map((k) => [k, SETTINGS[k].default])) as ServeConfig,
);

/**
 * Where a value came from, for errors that say which one to fix: a flag (`--data-port`), `--set`, an environment
 * variable, the config file, or a caller in code (tests, load tests: named `serve.<key>`).
 */
export type ValueSource = { kind: 'flag'; flag: string } | { kind: 'set' } | { kind: 'env' } | { kind: 'file'; file: string } | { kind: 'code' };

/** One value given for a setting, with its source. */
export interface GivenValue {
  key: string;
  value: unknown;
  source: ValueSource;
}

/** Precedence, lowest first: a later source wins over an earlier one. A named flag wins over `--set`. */
const PRECEDENCE: readonly ValueSource['kind'][] = ['code', 'file', 'env', 'set', 'flag'];

function row(key: SettingKey): Setting<unknown> {
  return SETTINGS[key] as Setting<unknown>;
}

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

function shown(key: SettingKey, value: unknown): string {
  if (row(key).secret) return '<hidden>';
  const t = typeof value === 'string' ? value : JSON.stringify(value);
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
}

/** Names the source of a bad value the way a user wrote it: `SLUICE_DATA_PORT=70000`, `--set dataPort=70000`. */
function where(key: SettingKey, g: GivenValue): string {
  const v = shown(key, g.value);
  switch (g.source.kind) {
    case 'flag':
      return `${g.source.flag} ${v}`;
    case 'set':
      return `--set ${key}=${v}`;
    case 'env':
      return `${envName(key)}=${v}`;
    case 'file':
      return `${g.source.file}: ${key}: ${v}`;
    case 'code':
      return `serve.${key}`;
  }
}

function unknownKeyIssue(g: GivenValue): FieldIssue {
  const at = g.source.kind === 'set' ? `--set ${g.key}` : g.source.kind === 'file' ? `${g.source.file}: ${g.key}` : `serve.${g.key}`;
  return { path: at, message: `unknown setting "${g.key}"; known: ${SETTING_KEYS.join(', ')}` };
}

/**
 * Resolves the configuration from values given by several sources over the table's defaults. Precedence: flag >
 * `--set` > environment variable > config file > default. Every value is read according to its row (text from a
 * flag or the environment becomes a number, a boolean or a list) and checked; every bad value is reported at once,
 * each naming its source, the setting and the allowed range.
 */
export function resolveConfig(given: readonly GivenValue[]): ServeConfig {
  const issues: FieldIssue[] = [];
  const chosen = new Map<SettingKey, GivenValue>();
  for (const g of given) {
    if (g.value === undefined) continue;
    if (!isSettingKey(g.key)) {
      issues.push(unknownKeyIssue(g));
      continue;
    }
    const prior = chosen.get(g.key);
    if (!prior || PRECEDENCE.indexOf(g.source.kind) >= PRECEDENCE.indexOf(prior.source.kind)) chosen.set(g.key, g);
  }
  const out: Record<string, unknown> = { ...SERVE_DEFAULTS };
  for (const [key, g] of chosen) {
    const r = row(key);
    const checked = r.check(fromText(r.kind, g.value));
    if (checked.ok) {
      out[key] = checked.value;
      continue;
    }
    const message = checked.message;
    // Numbers: the check that failed ("must be ≤ 65535") and the whole range; other kinds' messages say it all.
    const allowed = r.kind === 'number' ? ` (allowed: ${r.range})` : '';
    if (g.source.kind === 'code') issues.push({ path: `serve.${key}`, message: `${message}${allowed}` });
    else issues.push({ path: where(key, g), message: `${key} ${message}${allowed}` });
  }
  if (issues.length > 0) throw new ValidationError(issues, 'invalid configuration');
  return out as ServeConfig;
}

/** Merges overrides given in code onto the defaults and validates; errors name the key (`serve.dataPort: …`). */
export function resolveServeConfig(overrides: Record<string, unknown>): ServeConfig {
  return resolveConfig(Object.entries(overrides).map(([key, value]) => ({ key, value, source: { kind: 'code' } })));
}

/** The `SLUICE_*` variables of the table that are set in `env`. */
export function settingsFromEnv(env: NodeJS.ProcessEnv): GivenValue[] {
  const out: GivenValue[] = [];
  for (const key of SETTING_KEYS) {
    const value = env[envName(key)];
    if (value !== undefined) out.push({ key, value, source: { kind: 'env' } });
  }
  return out;
}

/**
 * `SLUICE_*` variables that are not settings but are read elsewhere: the CLI's credentials and server, the
 * config file, the demo runtime's knobs (inherited by replicas), the tests' and load tests' own switches.
 */
const OTHER_SLUICE_ENV = /^SLUICE_(ADMIN_TOKEN|TOKEN|SERVER|CONTEXT|CONFIG|CONFIG_FILE|METRICS_URL|STATE_DIR|LOG_LEVEL|IMPORT_LOG|MAX_API_KEYS|KEEP_RUNTIME_WORK|NODE_FLAGS|PYTHON|RUNTIMES|DEMO_[A-Z0-9_]+|TEST_[A-Z0-9_]+|BENCH_[A-Z0-9_]+|BATCH_[A-Z0-9_]+|IMAGE_[A-Z0-9_]+|[A-Z]+_MODEL_NAME)$/;

/**
 * The `SLUICE_*` variables in `env` that no setting or other part of Sluice reads — most likely a misspelt
 * setting, which would otherwise be ignored without a word. Each comes with the closest setting's variable
 * when one is near.
 */
export function unknownSluiceEnv(env: NodeJS.ProcessEnv): { name: string; suggestion?: string }[] {
  const known = new Set(SETTING_KEYS.map((k) => envName(k)));
  const out: { name: string; suggestion?: string }[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('SLUICE_') || known.has(name) || OTHER_SLUICE_ENV.test(name)) continue;
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const k of known) {
      const d = editDistance(name, k);
      if (d < bestDistance) [best, bestDistance] = [k, d];
    }
    out.push(bestDistance <= Math.max(2, Math.floor(name.length / 5)) ? { name, suggestion: best } : { name });
  }
  return out;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Parses the `gpus` setting into device counts per resource name. */
export function parseGpuInventory(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of text.split(',').filter(Boolean)) {
    const [name, count] = part.split('=') as [string, string];
    out[name] = Number(count);
  }
  return out;
}

/**
 * Reads `name=value` pairs (the `--set` flag) as given values. Unknown names and bad values are reported by
 * resolveConfig, naming the setting.
 */
export function parseSettingPairs(pairs: readonly string[]): GivenValue[] {
  const out: GivenValue[] = [];
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ValidationError([{ path: `--set ${pair}`, message: 'must look like name=value, e.g. shutdownGraceSeconds=5' }], 'invalid configuration');
    out.push({ key: pair.slice(0, eq), value: pair.slice(eq + 1), source: { kind: 'set' } });
  }
  return out;
}
