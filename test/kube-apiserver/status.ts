/** Kubernetes `Status` failures, thrown inside the server and written as the response body. */
import { qualifiedName, type ResourceType } from './resources.js';

export class StatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  toStatus(): object {
    return statusObject(this.code, this.reason, this.message, this.details);
  }
}

export function statusObject(code: number, reason: string, message: string, details: Record<string, unknown> = {}): object {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 400 ? 'Success' : 'Failure',
    message,
    reason,
    details,
    code,
  };
}

function detailsOf(t: ResourceType, name: string): Record<string, unknown> {
  return { name, group: t.group, kind: t.plural };
}

export const errors = {
  notFound: (t: ResourceType, name: string) =>
    new StatusError(404, 'NotFound', `${qualifiedName(t)} "${name}" not found`, detailsOf(t, name)),
  alreadyExists: (t: ResourceType, name: string) =>
    new StatusError(409, 'AlreadyExists', `${qualifiedName(t)} "${name}" already exists`, detailsOf(t, name)),
  conflict: (t: ResourceType, name: string, why = 'the object has been modified; please apply your changes to the latest version and try again') =>
    new StatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedName(t)} "${name}": ${why}`, detailsOf(t, name)),
  invalid: (t: ResourceType, name: string, causes: { field: string; message: string }[]) =>
    new StatusError(
      422,
      'Invalid',
      `${t.kind}.${t.group === '' ? '' : t.group} "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`.replace(
        `${t.kind}. "`,
        `${t.kind} "`,
      ),
      { ...detailsOf(t, name), kind: t.kind, causes: causes.map((c) => ({ reason: 'FieldValueInvalid', ...c })) },
    ),
  badRequest: (message: string) => new StatusError(400, 'BadRequest', message),
  gone: (message: string) => new StatusError(410, 'Expired', message),
  unauthorized: () => new StatusError(401, 'Unauthorized', 'Unauthorized'),
  methodNotAllowed: (message: string) => new StatusError(405, 'MethodNotAllowed', message),
  unsupportedMediaType: (type: string) => new StatusError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format: ${type}`),
  namespaceNotFound: (ns: string) =>
    new StatusError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' }),
};
