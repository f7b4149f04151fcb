/**
 * Where a CLI command finds the admin API and its token: `--server`/`SLUICE_SERVER` (default
 * http://127.0.0.1:8081); `--token`, else `SLUICE_ADMIN_TOKEN`, else — only for a server on this machine — the
 * file `admin-token` in the state directory `sluice serve` uses (`--state-dir`/`SLUICE_STATE_DIR`, default
 * ./.sluice). A token file is never sent to a server on another machine.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_STATE_DIR } from '../core/state-dir.js';
import { isLoopbackAddress } from '../deploy/admin-guard.js';
import { AdminClient } from './admin-client.js';
import { ADMIN_TOKEN_FILE } from './admin-token.js';

export interface AdminTarget {
  server?: string;
  token?: string;
  stateDir?: string;
}

export interface AdminCredentials {
  token: string | null;
  /** What to tell a user whose request was refused with 401. */
  hint: string;
}

const HOW = 'pass --token or set SLUICE_ADMIN_TOKEN, or run the CLI where it finds the token file of `sluice serve` (--state-dir or SLUICE_STATE_DIR, default ./.sluice)';

export function adminServer(o: AdminTarget, env: NodeJS.ProcessEnv = process.env): string {
  return o.server ?? env.SLUICE_SERVER ?? 'http://127.0.0.1:8081';
}

export function adminCredentials(o: AdminTarget, env: NodeJS.ProcessEnv = process.env): AdminCredentials {
  if (o.token !== undefined) return { token: o.token, hint: `the token given with --token was refused; ${HOW}` };
  if (env.SLUICE_ADMIN_TOKEN) return { token: env.SLUICE_ADMIN_TOKEN, hint: `the token in SLUICE_ADMIN_TOKEN was refused; ${HOW}` };
  let host = '';
  try {
    host = new URL(adminServer(o, env)).hostname;
  } catch {
    // an unparsable server URL fails at the request, with its own message
  }
  if (!isLoopbackAddress(host)) return { token: null, hint: `a server on another machine needs its token: pass --token or set SLUICE_ADMIN_TOKEN` };
  const file = join(resolve(o.stateDir ?? env.SLUICE_STATE_DIR ?? DEFAULT_STATE_DIR), ADMIN_TOKEN_FILE);
  try {
    return { token: readFileSync(file, 'utf8').trim(), hint: `the token in ${file} was refused (is the server using another state directory or an explicit --admin-token?); ${HOW}` };
  } catch {
    return { token: null, hint: `no token was found (no file ${file}); ${HOW}` };
  }
}

/** The admin API client a CLI command uses. */
export function adminClientFor(o: AdminTarget, env: NodeJS.ProcessEnv = process.env): AdminClient {
  return new AdminClient(adminServer(o, env), adminCredentials(o, env));
}
