/**
 * Where a CLI command finds the admin API and its token: `--server`, else `SLUICE_SERVER`, else the current
 * context of the CLI config (cli-config.ts), else http://127.0.0.1:8081; `--token`, else `SLUICE_TOKEN`, else
 * `SLUICE_ADMIN_TOKEN`, else the context's token, else — only for a server on this machine — the file
 * `admin-token` in the state directory `sluice serve` uses (`--state-dir`/`SLUICE_STATE_DIR`, default ./.sluice).
 * A token file is never sent to a server on another machine, and a context's token only to its own server.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_STATE_DIR } from '../core/state-dir.js';
import { isLoopbackAddress } from '../deploy/admin-guard.js';
import { AdminClient } from './admin-client.js';
import { ADMIN_TOKEN_FILE } from './admin-token.js';
import { cliContext, type CliContext } from './cli-config.js';

export interface AdminTarget {
  server?: string;
  token?: string;
  stateDir?: string;
  /** A context of the CLI config (default: its current-context). */
  context?: string;
}

export interface AdminCredentials {
  token: string | null;
  /** What to tell a user whose request was refused with 401. */
  hint: string;
}

const HOW = 'pass --token or set SLUICE_TOKEN, use a context of the CLI config (~/.sluice/config), or run the CLI where it finds the token file of `sluice serve` (--state-dir or SLUICE_STATE_DIR, default ./.sluice)';

export function adminServer(o: AdminTarget, env: NodeJS.ProcessEnv = process.env): string {
  return o.server ?? env.SLUICE_SERVER ?? contextOf(o, env)?.server ?? 'http://127.0.0.1:8081';
}

function contextOf(o: AdminTarget, env: NodeJS.ProcessEnv): CliContext | null {
  // A server given explicitly is not the context's, unless a context is named too.
  if ((o.server !== undefined || env.SLUICE_SERVER) && o.context === undefined && !env.SLUICE_CONTEXT) return null;
  return cliContext(o.context, env);
}

export function adminCredentials(o: AdminTarget, env: NodeJS.ProcessEnv = process.env): AdminCredentials {
  if (o.token !== undefined) return { token: o.token, hint: `the token given with --token was refused; ${HOW}` };
  if (env.SLUICE_TOKEN) return { token: env.SLUICE_TOKEN, hint: `the token in SLUICE_TOKEN was refused; ${HOW}` };
  if (env.SLUICE_ADMIN_TOKEN) return { token: env.SLUICE_ADMIN_TOKEN, hint: `the token in SLUICE_ADMIN_TOKEN was refused; ${HOW}` };
  const ctx = contextOf(o, env);
  if (ctx?.token !== undefined) return { token: ctx.token, hint: `the token of context "${ctx.name}" in ${ctx.file} was refused; ${HOW}` };
  let host = '';
  try {
    host = new URL(adminServer(o, env)).hostname;
  } catch {
    // an unparsable server URL fails at the request, with its own message
  }
  if (!isLoopbackAddress(host)) return { token: null, hint: `a server on another machine needs its token: pass --token, set SLUICE_TOKEN, or add a context to ~/.sluice/config` };
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
