import { Option, type Command } from 'commander';
import { SETTINGS, SETTING_KEYS, type SettingKey } from '../core/config-table.js';
import { parseSettingPairs, resolveConfig, settingsFromEnv, unknownSluiceEnv, type GivenValue, type ServeConfig } from '../core/config.js';
import { envName, type Role, type Setting } from '../core/setting-kinds.js';

/** The variable that names a config file when `--config-file` is not given. */
export const CONFIG_FILE_ENV = 'SLUICE_CONFIG_FILE';

/** The default as help shows it. */
export function defaultText(s: Setting<unknown>): string {
  if (s.defaultText !== undefined) return s.defaultText;
  return Array.isArray(s.default) ? s.default.join(',') : String(s.default);
}

function help(key: SettingKey): string {
  const s = SETTINGS[key] as Setting<unknown>;
  // The first sentence (a lower-case letter after ". " is an abbreviation, e.g. "e.g. x").
  const first = s.description.split(/\.\s+(?=[A-Z])|; /)[0];
  return `${first} (default ${defaultText(s).replace(/^\((.*)\)$/, '$1')}; $${envName(key)})`;
}

/** The rows of the table a command reads that have a flag of their own. */
function flagged(role: Role): SettingKey[] {
  return SETTING_KEYS.filter((k) => {
    const s = SETTINGS[k] as Setting<unknown>;
    return s.flag !== undefined && s.roles.includes(role);
  });
}

/**
 * Adds the settings of a role to a command: a flag for each row that has one, `--config-file`, and `--set` for
 * any row. Every flag's help comes from the table (its default and its environment variable).
 */
export function addSettingOptions(cmd: Command, role: Role): Command {
  const specs = role === 'serve' ? '; not InferenceService specs: those go in the folder of --config' : '';
  cmd.option('--config-file <file>', `YAML file of settings (keys of docs/configuration.md, e.g. "dataPort: 8080")${specs} (default $${CONFIG_FILE_ENV})`);
  for (const key of flagged(role)) cmd.addOption(new Option(SETTINGS[key].flag as string, help(key)));
  cmd.option('--set <name=value...>', 'any setting of docs/configuration.md, e.g. --set shutdownGraceSeconds=5 maxConnections=20000');
  return cmd;
}

/**
 * The configuration of a command: its flags (a named flag over `--set`), then the `SLUICE_*` environment, then
 * the config file, then the defaults. Bad values and unknown keys fail here, before anything starts. A `SLUICE_*`
 * variable that nothing reads is a warning on stderr (not an error: an environment is often shared).
 */
export async function configFromCommand(
  cmd: Command,
  role: Role,
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = (line) => process.stderr.write(line),
): Promise<ServeConfig> {
  for (const u of unknownSluiceEnv(env)) {
    warn(`Warning: ${u.name} is not a Sluice setting and is ignored${u.suggestion ? ` (did you mean ${u.suggestion}?)` : ''}; the settings are in docs/configuration.md\n`);
  }
  const o = cmd.opts<Record<string, unknown>>();
  const given: GivenValue[] = [];
  const file = (o.configFile as string | undefined) ?? env[CONFIG_FILE_ENV];
  // The YAML parser is loaded only when there is a file to read.
  if (file) given.push(...(await import('../core/config-file.js')).readConfigFile(file));
  given.push(...settingsFromEnv(env));
  given.push(...parseSettingPairs((o.set as string[] | undefined) ?? []));
  const byAttribute = new Map(flagged(role).map((k) => [new Option(SETTINGS[k].flag as string).attributeName(), k]));
  for (const opt of cmd.options) {
    const attr = opt.attributeName();
    const key = byAttribute.get(attr);
    if (key === undefined || cmd.getOptionValueSource(attr) !== 'cli') continue;
    given.push({ key, value: o[attr], source: { kind: 'flag', flag: opt.long ?? attr } });
  }
  return resolveConfig(given);
}
