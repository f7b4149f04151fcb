import { SETTINGS, SETTING_KEYS } from './config-table.js';
import { envName, type Setting } from './setting-kinds.js';

export const TABLE_BEGIN = '<!-- settings-table:begin — generated from core/config-table.ts by `npm run gen:config-docs`; do not edit -->';
export const TABLE_END = '<!-- settings-table:end -->';

const cell = (text: string): string => text.replace(/\|/g, '\\|');

function shownDefault(s: Setting<unknown>): string {
  if (s.defaultText !== undefined) return s.defaultText;
  if (Array.isArray(s.default)) return s.default.length === 0 ? '(none)' : s.default.join(',');
  return s.default === '' ? '(empty)' : String(s.default);
}

function readBy(s: Setting<unknown>): string {
  return s.roles.length === 4 ? 'all' : s.roles.join(', ');
}

/** The settings table of docs/configuration.md, one row per row of core/config-table.ts. */
export function renderSettingsTable(): string {
  const lines = [
    '| key (file, `--set`) | type / range | default | flag | environment | read by | description |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const key of SETTING_KEYS) {
    const s = SETTINGS[key] as Setting<unknown>;
    const flag = s.flag ? `\`${s.flag.replace(/ <.*>$/, '')}\`` : '—';
    lines.push(`| ${key} | ${cell(s.range)} | ${cell(shownDefault(s))} | ${flag} | \`${envName(key)}\` | ${readBy(s)} | ${cell(s.description)} |`);
  }
  return lines.join('\n');
}

/** `doc` with the text between the table's markers replaced by the generated table. */
export function withGeneratedTable(doc: string): string {
  const begin = doc.indexOf(TABLE_BEGIN);
  const end = doc.indexOf(TABLE_END);
  if (begin < 0 || end < begin) throw new Error(`docs/configuration.md lacks the markers ${TABLE_BEGIN} … ${TABLE_END}`);
  return `${doc.slice(0, begin + TABLE_BEGIN.length)}\n${renderSettingsTable()}\n${doc.slice(end)}`;
}
