/**
 * Validates Kubernetes manifests the way a strict `kubectl apply --validate=strict` would, offline:
 *  1. the official OpenAPI schema of the kind (types, required fields, enums, formats), through the
 *     validators that `kubernetes-models` compiles from Kubernetes' published OpenAPI (kubernetes-models 4.5.1: Kubernetes 1.33's, the last release whose engines allow Node 20);
 *  2. unknown fields (typos), walking the Kubernetes model type maps of @kubernetes/client-node;
 *  3. custom resources of a CRD this validator was given, against that CRD's openAPIV3Schema (ajv);
 *  4. CustomResourceDefinitions: additionally the structural-schema rules the API server enforces.
 */
import * as k8s from '@kubernetes/client-node';
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv';

export interface ManifestIssue {
  /** `<file>#<doc index> <kind>/<name>`. */
  where: string;
  message: string;
}

type Doc = Record<string, unknown>;

interface ModelClass {
  getAttributeTypeMap(): { baseName: string; type: string }[];
}

function isObj(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const LEAF_TYPES = new Set(['string', 'number', 'boolean', 'Date', 'any', 'object', 'IntOrString']);

/** Paths of fields the Kubernetes type does not have (what strict field validation rejects). */
export function unknownFields(value: unknown, typeName: string, path = ''): string[] {
  if (LEAF_TYPES.has(typeName) || value === null || value === undefined) return [];
  const arrayOf = /^Array<(.+)>$/.exec(typeName);
  if (arrayOf) return Array.isArray(value) ? value.flatMap((v, i) => unknownFields(v, arrayOf[1]!, `${path}[${i}]`)) : [];
  const mapOf = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (mapOf) return isObj(value) ? Object.entries(value).flatMap(([k, v]) => unknownFields(v, mapOf[1]!, `${path}.${k}`)) : [];
  const model = (k8s as unknown as Record<string, ModelClass | undefined>)[typeName];
  if (!model || typeof model.getAttributeTypeMap !== 'function' || !isObj(value)) return [];
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const t = attrs.get(k);
    if (t === undefined) out.push(`${path}.${k}`.replace(/^\./, ''));
    // A CRD's JSONSchemaProps nests schemas under `any` fields (items, additionalProperties).
    else if (typeName === 'V1JSONSchemaProps' && (k === 'items' || k === 'additionalProperties') && isObj(v)) out.push(...unknownFields(v, 'V1JSONSchemaProps', `${path}.${k}`));
    else out.push(...unknownFields(v, t, `${path}.${k}`));
  }
  return out;
}

/** The structural-schema rules of apiextensions.k8s.io/v1 that a CRD schema must follow. */
export function structuralIssues(schema: unknown, path = 'openAPIV3Schema'): string[] {
  if (!isObj(schema)) return [`${path}: not an object`];
  const out: string[] = [];
  const intOrString = schema['x-kubernetes-int-or-string'] === true;
  const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true;
  if (schema['type'] === undefined && !intOrString && !preserve) out.push(`${path}: type is required`);
  if (intOrString && schema['type'] !== undefined) out.push(`${path}: x-kubernetes-int-or-string must not have a type`);
  if (schema['properties'] !== undefined && schema['additionalProperties'] !== undefined) out.push(`${path}: properties and additionalProperties are mutually exclusive`);
  if (schema['type'] === 'array' && !isObj(schema['items'])) out.push(`${path}: arrays need items`);
  if (preserve && schema['type'] !== undefined && schema['type'] !== 'object') out.push(`${path}: x-kubernetes-preserve-unknown-fields needs type object`);
  for (const k of ['$ref', 'definitions', 'dependencies', 'id', 'additionalItems', 'patternProperties'] as const) {
    if (schema[k] !== undefined) out.push(`${path}: ${k} is not allowed in a structural schema`);
  }
  if (isObj(schema['properties'])) for (const [k, v] of Object.entries(schema['properties'])) out.push(...structuralIssues(v, `${path}.properties.${k}`));
  if (isObj(schema['items'])) out.push(...structuralIssues(schema['items'], `${path}.items`));
  if (isObj(schema['additionalProperties'])) out.push(...structuralIssues(schema['additionalProperties'], `${path}.additionalProperties`));
  return out;
}

function kindModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajv.addKeyword({
    keyword: 'x-kubernetes-int-or-string',
    validate: (enabled: boolean, data: unknown) => !enabled || typeof data === 'string' || Number.isInteger(data),
    errors: false,
  });
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) });
  return ajv;
}

export class ManifestValidator {
  private readonly ajv = newAjv();
  /** `<apiVersion>/<Kind>` → compiled CRD schema. */
  private readonly custom = new Map<string, ValidateFunction>();

  /** Teaches the validator a CRD, so its custom resources are checked against the CRD's schema. */
  addCrd(crd: Doc): void {
    const spec = isObj(crd['spec']) ? crd['spec'] : {};
    const names = isObj(spec['names']) ? spec['names'] : {};
    for (const v of Array.isArray(spec['versions']) ? spec['versions'] : []) {
      if (!isObj(v) || !isObj(v['schema'])) continue;
      const key = `${String(spec['group'])}/${String(v['name'])}/${String(names['kind'])}`;
      this.custom.set(key, this.ajv.compile(v['schema']['openAPIV3Schema'] as AnySchema));
    }
  }

  /** Validates one object; returns its issues (empty when valid). */
  async validate(doc: unknown, where: string): Promise<ManifestIssue[]> {
    if (!isObj(doc)) return [{ where, message: 'document is not an object' }];
    const apiVersion = String(doc['apiVersion'] ?? '');
    const kind = String(doc['kind'] ?? '');
    const meta = isObj(doc['metadata']) ? doc['metadata'] : {};
    const at = `${where} ${kind}/${String(meta['name'] ?? '?')}`;
    if (!apiVersion || !kind) return [{ where: at, message: 'apiVersion and kind are required' }];
    const issues: ManifestIssue[] = [];
    const crdCheck = this.custom.get(`${apiVersion}/${kind}`);
    if (crdCheck) {
      if (!crdCheck(doc)) for (const e of crdCheck.errors ?? []) issues.push({ where: at, message: `${e.instancePath || '/'} ${e.message ?? ''}` });
      return issues;
    }
    let mod: Record<string, unknown>;
    try {
      mod = (await import(kindModule(apiVersion, kind))) as Record<string, unknown>;
    } catch {
      return [{ where: at, message: `no Kubernetes schema for ${apiVersion} ${kind} (unknown kind, or a CRD not given to the validator)` }];
    }
    const Model = mod[kind] as (new (data: unknown) => { validate(): void }) | undefined;
    if (!Model) return [{ where: at, message: `no model for ${apiVersion} ${kind}` }];
    try {
      new Model(doc).validate();
    } catch (err) {
      issues.push({ where: at, message: err instanceof Error ? err.message : String(err) });
    }
    const typeName = `${apiVersion.split('/').pop()!.replace(/^./, (c) => c.toUpperCase())}${kind}`;
    for (const p of unknownFields(doc, typeName)) issues.push({ where: at, message: `unknown field "${p}"` });
    if (kind === 'CustomResourceDefinition' && apiVersion === 'apiextensions.k8s.io/v1') {
      const spec = isObj(doc['spec']) ? doc['spec'] : {};
      for (const v of Array.isArray(spec['versions']) ? spec['versions'] : []) {
        const schema = isObj(v) && isObj(v['schema']) ? v['schema']['openAPIV3Schema'] : undefined;
        for (const m of structuralIssues(schema)) issues.push({ where: at, message: `not structural: ${m}` });
      }
    }
    return issues;
  }
}
