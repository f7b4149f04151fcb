/**
 * Multi-document YAML → typed objects, dispatching on `kind`. Errors name the source and the document index.
 */
import { parseAllDocuments } from 'yaml';
import { ValidationError, errorMessage } from '../core/errors.js';
import { parseInferenceService, type InferenceService } from './inferenceservice.js';
import type { LocalLaunchRecipe } from './revision.js';
import { parseLocalLaunchRecipe, parseServingRuntime, type ServingRuntime } from './servingruntime.js';

interface Origin {
  /** File name or other label the text came from. */
  source: string;
  /** 0-based index of the YAML document within the source. */
  index: number;
}

export type ParsedObject =
  | (Origin & { kind: 'InferenceService'; object: InferenceService; warnings: string[] })
  | (Origin & { kind: 'ServingRuntime' | 'ClusterServingRuntime'; object: ServingRuntime })
  | (Origin & { kind: 'LocalLaunchRecipe'; runtime: string; recipe: LocalLaunchRecipe });

export const MANIFEST_KINDS = ['InferenceService', 'ServingRuntime', 'ClusterServingRuntime', 'LocalLaunchRecipe'] as const;

/** Parses every document in `text`. Empty documents are skipped. Throws ValidationError naming source#index. */
export function parseManifests(text: string, source: string): ParsedObject[] {
  const out: ParsedObject[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, index) => {
    const where = `${source}: document ${index}`;
    if (doc.errors.length > 0) {
      const first = doc.errors[0];
      throw new ValidationError([{ path: '(yaml)', message: first ? first.message : 'unreadable YAML' }], where);
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    out.push(parseOne(value, source, index));
  });
  return out;
}

function parseOne(value: unknown, source: string, index: number): ParsedObject {
  const where = `${source}: document ${index}`;
  const kind = typeof value === 'object' && value !== null && 'kind' in value ? value.kind : undefined;
  try {
    switch (kind) {
      case 'InferenceService': {
        const { object, warnings } = parseInferenceService(value);
        return { source, index, kind, object, warnings };
      }
      case 'ServingRuntime':
      case 'ClusterServingRuntime':
        return { source, index, kind, object: parseServingRuntime(value) };
      case 'LocalLaunchRecipe':
        return { source, index, kind, ...parseLocalLaunchRecipe(value) };
      default:
        throw new ValidationError(
          [{ path: 'kind', message: `${JSON.stringify(kind ?? null)} is not one of ${MANIFEST_KINDS.join(', ')}` }],
          'unsupported document',
        );
    }
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(err.issues, `${where}: ${firstLine(err.message)}`);
    throw new Error(`${where}: ${errorMessage(err)}`);
  }
}

function firstLine(message: string): string {
  const line = message.split('\n')[0] ?? message;
  return line.endsWith(':') ? line.slice(0, -1) : line;
}
