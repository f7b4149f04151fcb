/**
 * What the API server does with a custom resource before storing it, per its CRD's structural schema:
 * prune fields the schema does not declare (unless x-kubernetes-preserve-unknown-fields), then validate
 * (types, enums, bounds, required) — a failure is 422 Invalid with one cause per problem.
 */
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';
import { isObject } from './types.js';

type SchemaNode = Record<string, unknown>;

/** Removes, in place, every field the schema does not know. */
export function prune(value: unknown, schema: unknown, root = true): void {
  if (!isObject(schema)) return;
  if (Array.isArray(value)) {
    for (const v of value) prune(v, schema['items'], false);
    return;
  }
  if (!isObject(value)) return;
  const props = isObject(schema['properties']) ? (schema['properties'] as Record<string, SchemaNode>) : null;
  const additional = schema['additionalProperties'];
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  for (const key of Object.keys(value)) {
    if (root && (key === 'apiVersion' || key === 'kind' || key === 'metadata')) continue;
    if (props && key in props) prune(value[key], props[key], false);
    else if (isObject(additional)) prune(value[key], additional, false);
    else if (!preserve && additional !== true) delete value[key];
  }
}

export interface SchemaCause {
  field: string;
  message: string;
}

/** Compiles CRD schemas on first use and checks objects against them. */
export class CrdSchemas {
  private readonly ajv: Ajv;
  private readonly schemas = new Map<string, unknown>();
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor() {
    this.ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
    this.ajv.addKeyword({
      keyword: 'x-kubernetes-int-or-string',
      validate: (on: boolean, data: unknown) => !on || typeof data === 'string' || Number.isInteger(data),
      errors: false,
    });
    this.ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    this.ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
  }

  /** Registers the schema of `<group>/<version>/<plural>`. */
  set(key: string, schema: unknown): void {
    this.schemas.set(key, schema);
    this.compiled.delete(key);
  }

  delete(key: string): void {
    this.schemas.delete(key);
    this.compiled.delete(key);
  }

  /** Prunes `obj` in place and returns the validation problems (empty when valid, or when no schema is known). */
  admit(key: string, obj: Record<string, unknown>): SchemaCause[] {
    const schema = this.schemas.get(key);
    if (!isObject(schema)) return [];
    prune(obj, schema);
    let check = this.compiled.get(key);
    if (!check) {
      check = this.ajv.compile(schema as AnySchema);
      this.compiled.set(key, check);
    }
    if (check(obj)) return [];
    return (check.errors ?? []).map((e) => ({
      field: e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '<root>',
      message: e.keyword === 'enum' ? `Unsupported value: ${JSON.stringify(e.data)}: supported values: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}` : (e.message ?? 'invalid'),
    }));
  }
}
