/**
 * Roles of admin API callers. The token `sluice serve` generates (or is given with `adminToken`) is `admin`;
 * more tokens, each with one role, are made with `sluice auth tokens create --role <role>` and kept hashed in
 * `<stateDir>/admin-tokens.json`. What each role may do:
 * - `viewer`: read (GET) InferenceServices, revisions and runtimes;
 * - `operator`: also traffic commands (`sluice traffic|promote|rollback`, `POST …/traffic`);
 * - `admin`: also apply and delete (InferenceServices, runtimes), and API keys and admin tokens (even listing).
 */
import { randomBytes } from 'node:crypto';
import { hashApiKey } from '../../api/api-keys.js';
import { HttpError } from '../../core/errors.js';
import type { StoredCredential } from './credential-file.js';

export const ADMIN_ROLES = ['viewer', 'operator', 'admin'] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

export interface AdminTokenRecord extends StoredCredential {
  role: AdminRole;
}

/** Who an admin request comes from. */
export interface AdminCaller {
  role: AdminRole;
  /** `admin-token` for the server's own token, else `token:<name>`. */
  subject: string;
}

const RANK: Record<AdminRole, number> = { viewer: 0, operator: 1, admin: 2 };

/** A new role token `st-sluice-<id>.<secret>` (256 random bits) and its record (the hash only). */
export function newAdminToken(name: string, role: AdminRole, now: Date): { token: string; record: AdminTokenRecord } {
  const id = randomBytes(8).toString('hex');
  const token = `st-sluice-${id}.${randomBytes(32).toString('base64url')}`;
  return { token, record: { id, name, role, hash: hashApiKey(token), createdAt: now.toISOString() } };
}

/** The role a request needs and what it does, in words for the 403. */
export function requiredRole(method: string, path: string): { role: AdminRole; action: string } {
  if (path.startsWith('/apis/auth.sluice.dev/')) return { role: 'admin', action: 'manage API keys and admin tokens' };
  if (method === 'GET' || method === 'HEAD') return { role: 'viewer', action: 'read' };
  if (method === 'POST' && path.endsWith('/traffic')) return { role: 'operator', action: 'change traffic (traffic, promote, rollback)' };
  if (method === 'DELETE') return { role: 'admin', action: 'delete' };
  return { role: 'admin', action: 'apply' };
}

/** Refuses (403, naming the caller's role and the one needed) a request the caller's role does not allow. */
export function checkRole(caller: AdminCaller, method: string, path: string): void {
  const need = requiredRole(method, path);
  // A role this version does not know (a hand-edited file) ranks below viewer: fail closed.
  if ((RANK[caller.role] ?? -1) < RANK[need.role])
    throw new HttpError(403, `role "${caller.role}" (${caller.subject}) may not ${need.action}: that needs the "${need.role}" role`);
}
