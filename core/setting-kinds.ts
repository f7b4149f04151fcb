import { parseQuantity } from './quantity.js';

/** The commands that read a setting: `sluice serve` and the cluster roles (`activator` is the gateway role). */
export type Role = 'serve' | 'gateway' | 'controller' | 'autoscaler';

/** How a setting given as text (a flag, `--set`, an environment variable) is read before it is checked. */
export type SettingKind = 'number' | 'string' | 'boolean' | 'list' | 'quantity';

/** The result of checking a value: the value (possibly normalised), or why it is refused ("must be ≤ 65535"). */
export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/**
 * A setting's type: how text is read, the check a value must pass, and the allowed values in words. Declarative
 * and dependency-free, so the CLI can build its flags from the table without loading a schema library.
 */
export interface SettingType<T> {
  kind: SettingKind;
  check(value: unknown): Checked<T>;
  /** The allowed values in words, for docs/configuration.md and for errors ("integer 0–65535"). */
  range: string;
}

/** One row of the configuration table. */
export interface Setting<T> extends SettingType<T> {
  default: T;
  /** The default as docs/configuration.md shows it, when the value alone would mislead (a computed one). */
  defaultText?: string;
  /** The command-line flag, as commander spells it (`--data-port <port>`); none: `--set`, env or file only. */
  flag?: string;
  roles: readonly Role[];
  /** One line: what it does, and where to read more. */
  description: string;
  /** Never echoed in errors or logs (the admin token). */
  secret?: boolean;
}

const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const refuse = <T>(message: string): Checked<T> => ({ ok: false, message });

function bounds(min: number | undefined, max: number | undefined, what: string): string {
  if (min !== undefined && max !== undefined) return `${what} ${min}–${max}`;
  if (min !== undefined) return `${what} ≥ ${min}`;
  if (max !== undefined) return `${what} ≤ ${max}`;
  return what;
}

/** A number within [min, max], or above `above` (a period that must not be 0); an integer when asked. */
function numberType(o: { min?: number; above?: number; max?: number; integer?: boolean }, range: string): SettingType<number> {
  return {
    kind: 'number',
    range,
    check(v) {
      if (typeof v !== 'number' || !Number.isFinite(v)) return refuse('must be a number');
      if (o.integer && !Number.isInteger(v)) return refuse('must be an integer');
      if (o.min !== undefined && v < o.min) return refuse(`must be ≥ ${o.min}`);
      if (o.above !== undefined && v <= o.above) return refuse(`must be > ${o.above}`);
      if (o.max !== undefined && v > o.max) return refuse(`must be ≤ ${o.max}`);
      return ok(v);
    },
  };
}

/** An integer within [min, max]. */
export function int(min?: number, max?: number): SettingType<number> {
  return numberType({ min, max, integer: true }, bounds(min, max, 'integer'));
}

/** A number within [min, max], or above `above` (a period that must not be 0). */
export function num(o: { min?: number; above?: number; max?: number }): SettingType<number> {
  const range = o.above !== undefined ? `number > ${o.above}${o.max !== undefined ? `, ≤ ${o.max}` : ''}` : bounds(o.min, o.max, 'number');
  return numberType(o, range);
}

/** Text; with a pattern, `range` says in words what it must look like (and is the error). */
export function text(pattern?: RegExp, range = 'text'): SettingType<string> {
  return {
    kind: 'string',
    range,
    check: (v) => (typeof v !== 'string' ? refuse('must be text') : pattern && !pattern.test(v) ? refuse(`must be ${range}`) : ok(v)),
  };
}

/** One of the given words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): SettingType<T[number]> {
  return {
    kind: 'string',
    range: values.join(' | '),
    check: (v) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? ok(v as T[number]) : refuse(`must be one of ${values.join(', ')}`)),
  };
}

export function bool(): SettingType<boolean> {
  return { kind: 'boolean', range: 'true | false', check: (v) => (typeof v === 'boolean' ? ok(v) : refuse('must be true or false')) };
}

/** Bytes, as a number or a Kubernetes quantity (`8Gi`, `512M`); resolved to a positive whole number of bytes. */
export function bytes(): SettingType<number> {
  return {
    kind: 'quantity',
    range: 'bytes ≥ 1, or a quantity such as 8Gi',
    check(v) {
      let n = NaN;
      if (typeof v === 'number' || typeof v === 'string') {
        try {
          n = parseQuantity(v);
        } catch {
          n = NaN;
        }
      }
      if (!(n >= 1) || !Number.isFinite(n)) return refuse(`must be a positive number of bytes or a quantity such as 8Gi, got ${JSON.stringify(v)}`);
      return ok(Math.floor(n));
    },
  };
}

/**
 * A list of text items (comma-separated as text, a YAML sequence in a file). With `items`: at most `maxItems`
 * items, each matching `pattern` and at most `maxLength` characters; `range` says so in words.
 */
export function list(items?: { pattern: RegExp; maxItems: number; maxLength: number; range: string }): SettingType<string[]> {
  return {
    kind: 'list',
    range: items?.range ?? 'comma-separated list',
    check(v) {
      if (!Array.isArray(v) || !v.every((i) => typeof i === 'string')) return refuse('must be a list of text');
      const l = v as string[];
      if (items !== undefined) {
        if (l.length > items.maxItems) return refuse(`has ${l.length} items: at most ${items.maxItems} (${items.range})`);
        for (const i of l) {
          if (i.length > items.maxLength) return refuse(`has an item longer than ${items.maxLength} characters (${i.length})`);
          if (!items.pattern.test(i)) return refuse(`has ${JSON.stringify(i)}: must be ${items.range}`);
        }
      }
      return ok([...l]);
    },
  };
}

/** The environment variable of a setting: SLUICE_ and the key in UPPER_SNAKE (dataPort → SLUICE_DATA_PORT). */
export function envName(key: string): string {
  return `SLUICE_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

/**
 * Reads a value given as text into the setting's kind: numbers and booleans are parsed, lists split on commas.
 * Text that does not parse is passed on as it is, so the schema refuses it with the setting's range.
 */
export function fromText(kind: SettingKind, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (kind === 'number' || kind === 'quantity') return t !== '' && Number.isFinite(Number(t)) ? Number(t) : value;
  if (kind === 'boolean') {
    if (/^(true|1|yes)$/i.test(t)) return true;
    if (/^(false|0|no)$/i.test(t)) return false;
    return value;
  }
  if (kind === 'list') return t.split(',').map((s) => s.trim()).filter(Boolean);
  return value;
}
