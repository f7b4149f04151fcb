/**
 * The admin token of `sluice serve`: the explicit one (`--admin-token`, `SLUICE_ADMIN_TOKEN`), or one made at the
 * first start and kept in `<stateDir>/admin-token` (0600 in the 0700 state directory), reused across restarts so a
 * CLI session keeps working. The local CLI reads the same file (cli/admin-credentials.ts). docs/security.md.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ServeConfig } from '../core/config.js';
import { isLoopbackAddress } from '../deploy/admin-guard.js';

export const ADMIN_TOKEN_FILE = 'admin-token';
const TOKEN = /^[A-Za-z0-9._~+/=-]{16,512}$/;

export interface AdminToken {
  token: string;
  /** The file holding it; null for an explicit token (which is never written anywhere). */
  file: string | null;
  origin: 'explicit' | 'generated' | 'reused';
}

/**
 * Refuses to expose the admin API beyond this machine without an explicit token: a token generated into a file on
 * the server is not one that remote clients can be expected to have, and applying a spec runs code as this user.
 */
export function checkAdminExposure(cfg: Pick<ServeConfig, 'adminHost' | 'adminToken'>): void {
  if (isLoopbackAddress(cfg.adminHost) || cfg.adminToken !== '') return;
  throw new Error(
    `--admin-host ${cfg.adminHost} would let other machines reach the admin API, and whoever can apply an InferenceService ` +
      'runs processes as this user; so an explicit token is required: set --admin-token or SLUICE_ADMIN_TOKEN ' +
      '(16+ characters, e.g. from `openssl rand -hex 32`) and give it to the clients, or keep --admin-host on loopback ' +
      '(127.0.0.1, the default). See docs/security.md',
  );
}

/** The explicit token, else the one in the state directory (if it is owner-only and well formed), else a new one. */
export function adminTokenFor(cfg: Pick<ServeConfig, 'adminToken'>, stateDir: string): AdminToken & { replacedReason?: string } {
  if (cfg.adminToken !== '') return { token: cfg.adminToken, file: null, origin: 'explicit' };
  const file = join(stateDir, ADMIN_TOKEN_FILE);
  let replacedReason: string | undefined;
  try {
    const st = statSync(file);
    const text = readFileSync(file, 'utf8').trim();
    if ((st.mode & 0o077) !== 0) replacedReason = `${file} could be read by other users (mode ${(st.mode & 0o777).toString(8)})`;
    else if (typeof process.getuid === 'function' && st.uid !== process.getuid()) replacedReason = `${file} belongs to another user`;
    else if (!TOKEN.test(text)) replacedReason = `${file} does not hold a well-formed token`;
    else return { token: text, file, origin: 'reused' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  writeOwnerOnly(file, `${token}\n`);
  return { token, file, origin: 'generated', ...(replacedReason ? { replacedReason } : {}) };
}

/** Write, fsync, rename: the file is whole or absent, and never readable by others. */
function writeOwnerOnly(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, file);
}
