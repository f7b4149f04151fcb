/**
 * Turns zod issues into FieldIssues that name the field path and say what was expected and what was found.
 */
import type { ZodIssue } from 'zod';
import type { FieldIssue } from '../core/errors.js';

/** `spec.predictor.containers[0].image` from a zod path. */
export function formatPath(path: readonly (string | number)[], prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (!/^[A-Za-z_$][\w$-]*$/.test(part)) out += `[${JSON.stringify(part)}]`;
    else out += out === '' ? part : `.${part}`;
  }
  return out;
}

/** Short description of a value for messages: `"qps"`, `3`, `an object`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'an object';
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let cur: unknown = root;
  for (const part of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[part];
  }
  return cur;
}

const TYPE_NAMES: Record<string, string> = {
  object: 'an object',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  float: 'a fractional number',
  null: 'null',
};

function typeName(t: string): string {
  return TYPE_NAMES[t] ?? t;
}

/**
 * What a wrong-typed field holds: the type, plus the value when it says more than the type does
 * (`a string "two"`, `a number 3`, but `null`, `an object`, `a list` once).
 */
export function describeReceived(received: string, value: unknown): string {
  const type = typeName(received);
  if (value === undefined || value === null || typeof value === 'object') return type;
  return `${type} ${describeValue(value)}`;
}

/** One zod issue → one or more FieldIssues (an unknown-keys issue becomes one issue per unknown field). */
export function toFieldIssues(issue: ZodIssue, input: unknown, prefix = ''): FieldIssue[] {
  const path = formatPath(issue.path, prefix);
  const value = valueAt(input, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key], prefix),
        message: issue.message.startsWith('allowed:') ? `unknown field (${issue.message})` : 'unknown field',
      }));
    case 'invalid_type':
      if (issue.received === 'undefined') return [{ path, message: `required (${typeName(issue.expected)})` }];
      return [{ path, message: `expected ${typeName(issue.expected)}, got ${describeReceived(issue.received, value)}` }];
    case 'invalid_enum_value':
      return [{ path, message: `${describeValue(issue.received)} is not one of ${issue.options.join(', ')}` }];
    case 'invalid_literal':
      return [{ path, message: `must be ${JSON.stringify(issue.expected)}, got ${describeValue(value)}` }];
    case 'too_small': {
      if (issue.type === 'array') return [{ path, message: `needs at least ${String(issue.minimum)} item(s)` }];
      if (issue.type === 'string') return [{ path, message: `must not be empty` }];
      const op = issue.inclusive ? '≥' : '>';
      return [{ path, message: `must be ${op} ${String(issue.minimum)}, got ${describeValue(value)}` }];
    }
    case 'too_big': {
      if (issue.type === 'array') return [{ path, message: `allows at most ${String(issue.maximum)} item(s)` }];
      if (issue.type === 'string') return [{ path, message: `must be at most ${String(issue.maximum)} characters` }];
      const op = issue.inclusive ? '≤' : '<';
      return [{ path, message: `must be ${op} ${String(issue.maximum)}, got ${describeValue(value)}` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

export function toFieldIssuesAll(issues: readonly ZodIssue[], input: unknown, prefix = ''): FieldIssue[] {
  return issues.flatMap((i) => toFieldIssues(i, input, prefix));
}
