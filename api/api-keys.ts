/**
 * Data-plane API keys: their shape, hashing and scopes. A key is `sk-sluice-<id>.<secret>`: 8 bytes of id (hex,
 * shown in lists and logs, sent to replicas as `x-sluice-key-id`) and 32 random bytes of secret (base64url).
 * Only the SHA-256 of the whole key is kept: the key has 256 bits of entropy, so a fast unsalted hash is enough
 * (no dictionary to guess from) and lets every request be checked with one hash and one map lookup.
 */
import { hash, randomBytes } from 'node:crypto';
import type { FieldIssue } from '../core/errors.js';

export const API_KEY_PREFIX = 'sk-sluice-';
const KEY_SHAPE = /^sk-sluice-([0-9a-f]{16})\.[A-Za-z0-9_-]{43}$/;
const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Where a key may be used: a namespace (`*`: every one) and optionally one service of it. */
export interface ApiKeyScope {
  namespace: string;
  service?: string;
}

/** What is stored of a key (never the key itself). */
export interface ApiKeyRecord {
  id: string;
  /** A label given at creation (who or what holds it). */
  name: string;
  /** SHA-256 of the whole key, hex. */
  hash: string;
  scopes: readonly ApiKeyScope[];
  createdAt: string;
}

/** A new random key and its record. The key is returned once; only the record is kept. */
export function newApiKey(name: string, scopes: readonly ApiKeyScope[], now: Date): { key: string; record: ApiKeyRecord } {
  const id = randomBytes(8).toString('hex');
  const key = `${API_KEY_PREFIX}${id}.${randomBytes(32).toString('base64url')}`;
  return { key, record: { id, name, hash: hashApiKey(key), scopes, createdAt: now.toISOString() } };
}

export function hashApiKey(key: string): string {
  return hash('sha256', key, 'hex');
}

/** True for something shaped like a Sluice API key (checked before hashing, so junk costs no hash). */
export function looksLikeApiKey(s: string): boolean {
  return s.length === 70 && KEY_SHAPE.test(s);
}

export function scopeAllows(scopes: readonly ApiKeyScope[], namespace: string, service: string): boolean {
  for (const s of scopes) {
    if ((s.namespace === '*' || s.namespace === namespace) && (s.service === undefined || s.service === service)) return true;
  }
  return false;
}

/** `ns`, `ns/service` or `*` → a scope, or an issue naming the field. */
export function parseScope(s: string, path: string): ApiKeyScope | FieldIssue {
  const t = s.trim();
  if (t === '*') return { namespace: '*' };
  const [ns, svc, more] = t.split('/');
  if (more !== undefined || !ns || !NAME.test(ns) || (svc !== undefined && !NAME.test(svc)))
    return { path, message: `expected "*", "<namespace>" or "<namespace>/<service>" (DNS labels), got ${JSON.stringify(s)}` };
  return svc === undefined ? { namespace: ns } : { namespace: ns, service: svc };
}

export function formatScope(s: ApiKeyScope): string {
  return s.service === undefined ? s.namespace : `${s.namespace}/${s.service}`;
}

/** Checks a create request `{name, scopes: ["ns" | "ns/svc" | "*"]}`; returns the parsed parts or the issues. */
export function parseApiKeyRequest(body: unknown): { name: string; scopes: ApiKeyScope[] } | FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (typeof body !== 'object' || body === null) return [{ path: '(body)', message: 'expected an object {name, scopes}' }];
  const { name, scopes } = body as { name?: unknown; scopes?: unknown };
  if (typeof name !== 'string' || !NAME.test(name)) issues.push({ path: 'name', message: 'expected a DNS label (a-z, 0-9, -; at most 63 characters)' });
  const out: ApiKeyScope[] = [];
  if (!Array.isArray(scopes) || scopes.length === 0 || scopes.length > 100) issues.push({ path: 'scopes', message: 'expected 1 to 100 scopes ("*", "<namespace>" or "<namespace>/<service>")' });
  else
    scopes.forEach((s, i) => {
      const p = typeof s === 'string' ? parseScope(s, `scopes[${i}]`) : { path: `scopes[${i}]`, message: 'expected a string' };
      if ('path' in p) issues.push(p);
      else out.push(p);
    });
  return issues.length > 0 ? issues : { name: name as string, scopes: out };
}
