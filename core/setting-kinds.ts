import { z } from 'zod';
import { parseQuantity } from './quantity.js';

/** The commands that read a setting: `sluice serve` and the cluster roles (`activator` is the gateway role). */
export type Role = 'serve' | 'gateway' | 'controller' | 'autoscaler';

/** How a setting given as text (a flag, `--set`, an environment variable) is read before it is checked. */
export type SettingKind = 'number' | 'string' | 'boolean' | 'list' | 'quantity';

/** A setting's type: how text is read, the schema a value must pass, and the allowed values in words. */
export interface SettingType<T> {
  kind: SettingKind;
  schema: z.ZodType<T, z.ZodTypeDef, unknown>;
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

const number = (): z.ZodNumber => z.number({ invalid_type_error: 'must be a number' });

function bounds(min: number | undefined, max: number | undefined, what: string): string {
  if (min !== undefined && max !== undefined) return `${what} ${min}–${max}`;
  if (min !== undefined) return `${what} ≥ ${min}`;
  if (max !== undefined) return `${what} ≤ ${max}`;
  return what;
}

/** An integer within [min, max]. */
export function int(min?: number, max?: number): SettingType<number> {
  let s = number().int('must be an integer');
  if (min !== undefined) s = s.min(min, `must be ≥ ${min}`);
  if (max !== undefined) s = s.max(max, `must be ≤ ${max}`);
  return { kind: 'number', schema: s, range: bounds(min, max, 'integer') };
}

/** A number within [min, max], or above min when `above` is set (a period that must not be 0). */
export function num(o: { min?: number; above?: number; max?: number }): SettingType<number> {
  let s = number();
  if (o.min !== undefined) s = s.min(o.min, `must be ≥ ${o.min}`);
  if (o.above !== undefined) s = s.gt(o.above, `must be > ${o.above}`);
  if (o.max !== undefined) s = s.max(o.max, `must be ≤ ${o.max}`);
  const range = o.above !== undefined ? `number > ${o.above}${o.max !== undefined ? `, ≤ ${o.max}` : ''}` : bounds(o.min, o.max, 'number');
  return { kind: 'number', schema: s, range };
}

/** Text; with a pattern, `range` says in words what it must look like (and is the error). */
export function text(pattern?: RegExp, range = 'text'): SettingType<string> {
  const s = z.string({ invalid_type_error: 'must be text' });
  return { kind: 'string', schema: pattern ? s.regex(pattern, `must be ${range}`) : s, range };
}

/** One of the given words. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T): SettingType<T[number]> {
  const s = z.enum(values, { errorMap: () => ({ message: `must be one of ${values.join(', ')}` }) });
  return { kind: 'string', schema: s, range: values.join(' | ') };
}

export function bool(): SettingType<boolean> {
  return { kind: 'boolean', schema: z.boolean({ invalid_type_error: 'must be true or false' }), range: 'true | false' };
}

/** Bytes, as a number or a Kubernetes quantity (`8Gi`, `512M`); resolved to a positive whole number of bytes. */
export function bytes(): SettingType<number> {
  const schema = z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    try {
      n = parseQuantity(v);
    } catch {
      n = NaN;
    }
    if (!(n >= 1) || !Number.isFinite(n)) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: `must be a positive number of bytes or a quantity such as 8Gi, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return Math.floor(n);
  });
  return { kind: 'quantity', schema, range: 'bytes ≥ 1, or a quantity such as 8Gi' };
}

/** A list of text items (comma-separated as text, a YAML sequence in a file). */
export function list(): SettingType<string[]> {
  return { kind: 'list', schema: z.array(z.string({ invalid_type_error: 'must be text' }), { invalid_type_error: 'must be a list' }), range: 'comma-separated list' };
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
