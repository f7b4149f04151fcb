import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { SETTING_KEYS } from './config-table.js';
import { isSettingKey, type GivenValue } from './config.js';
import { ValidationError, errorMessage } from './errors.js';

/**
 * Reads a config file (`sluice serve --config-file sluice.yaml`): a YAML (or JSON) mapping whose top-level keys
 * are the table's keys, e.g. `dataPort: 8080`. An empty file sets nothing. Anything but a mapping, and any key
 * the table does not know, is refused naming the file (and the known keys), before anything starts.
 */
export function readConfigFile(path: string): GivenValue[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError([{ path, message: `cannot read the config file: ${errorMessage(err)}` }], 'invalid configuration');
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ValidationError([{ path, message: `not valid YAML: ${errorMessage(err)}` }], 'invalid configuration');
  }
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ValidationError([{ path, message: 'must be a mapping of settings, e.g. "dataPort: 8080" (docs/configuration.md)' }], 'invalid configuration');
  const entries = Object.entries(doc as Record<string, unknown>);
  const unknown = entries.map(([k]) => k).filter((k) => !isSettingKey(k));
  if (unknown.length > 0)
    throw new ValidationError(
      unknown.map((k) => ({ path: `${path}: ${k}`, message: `unknown setting "${k}"; known: ${SETTING_KEYS.join(', ')}` })),
      'invalid configuration',
    );
  return entries.map(([key, value]) => ({ key, value, source: { kind: 'file', file: path } }));
}
