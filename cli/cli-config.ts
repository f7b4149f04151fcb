/**
 * The CLI's own config file, like a kubeconfig: named contexts, each an admin API server and a token, and the
 * current one. `$SLUICE_CONFIG`, else `~/.sluice/config`; YAML or JSON:
 *
 *     current-context: prod
 *     contexts:
 *       - name: prod
 *         server: https://sluice.example.com:8081
 *         token: st-sluice-…
 *
 * `--context <name>` (or `SLUICE_CONTEXT`) picks another context. The file holds tokens: keep it 0600.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface CliContext {
  name: string;
  server?: string;
  token?: string;
  /** The file it came from (for messages). */
  file: string;
}

export function cliConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SLUICE_CONFIG || join(homedir(), '.sluice', 'config');
}

/** The context to use, or null when there is no config file (and none was asked for by name). Throws on a bad file. */
export function cliContext(wanted: string | undefined, env: NodeJS.ProcessEnv = process.env): CliContext | null {
  const file = cliConfigPath(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !wanted && !env.SLUICE_CONTEXT) return null;
    throw new Error(`cannot read the CLI config ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    try {
      // Loaded only when a YAML config exists (the CLI's start-up stays light otherwise).
      doc = (createRequire(import.meta.url)('yaml') as { parse(t: string): unknown }).parse(text);
    } catch (err) {
      throw new Error(`${file} is neither JSON nor YAML: ${(err as Error).message}`);
    }
  }
  const d = (doc ?? {}) as { 'current-context'?: unknown; contexts?: unknown };
  const contexts = Array.isArray(d.contexts) ? (d.contexts as Array<Record<string, unknown>>) : [];
  const name = wanted ?? env.SLUICE_CONTEXT ?? (typeof d['current-context'] === 'string' ? d['current-context'] : undefined);
  if (name === undefined) return null;
  const c = contexts.find((x) => x?.name === name);
  if (!c) throw new Error(`${file} has no context "${name}" (contexts: ${contexts.map((x) => String(x?.name)).join(', ') || 'none'})`);
  return {
    name,
    file,
    ...(typeof c.server === 'string' ? { server: c.server } : {}),
    ...(typeof c.token === 'string' ? { token: c.token } : {}),
  };
}
