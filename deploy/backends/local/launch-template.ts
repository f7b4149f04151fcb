/**
 * Turns a revision's LocalLaunchRecipe into a concrete command line: resolves the model directory from
 * storageUri and fills the templates {{port}} {{modelName}} {{modelDir}} {{storageUri}} {{sluiceRoot}}
 * {{node}} {{python}} {{predictorHost}}. Pure apart from reading the process cwd for relative paths.
 */
import { isAbsolute, resolve } from 'node:path';
import type { LocalLaunchRecipe } from '../../../api/revision.js';

export interface LaunchContext {
  port: number;
  /** The replica's gRPC port when its recipe serves gRPC (`{{grpcPort}}` in it); absent or 0 otherwise. */
  grpcPort?: number;
  modelName: string;
  /** Absolute model directory, '' when the revision has no storageUri. */
  modelDir: string;
  storageUri: string;
  sluiceRoot: string;
  node: string;
  python: string;
  /** A transformer's or explainer's predictor through Sluice (`127.0.0.1:<data port>/serving/<ns>/<name>-predictor`); '' otherwise. */
  predictorHost?: string;
}

export interface LaunchCommand {
  command: string;
  args: string[];
  env: Record<string, string>;
  readinessPath: string;
  stdin: 'pipe' | 'null';
}

const TEMPLATE = /\{\{\s*([A-Za-z]+)\s*\}\}/g;
const NAMES: ReadonlySet<string> = new Set(['port', 'grpcPort', 'modelName', 'modelDir', 'storageUri', 'sluiceRoot', 'node', 'python', 'predictorHost']);

/**
 * `file:///abs`, `file://./rel`, `file://rel` or a plain path → an absolute directory (relative to `cwd`).
 * null → ''. Any other scheme is an error the user can act on.
 */
export function modelDirFromStorageUri(storageUri: string | null, cwd: string = process.cwd()): string {
  if (storageUri === null || storageUri === '') return '';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(storageUri);
  let path = storageUri;
  if (scheme) {
    if (scheme[1]!.toLowerCase() !== 'file') {
      throw new Error(
        `storageUri scheme ${scheme[1]}:// is not supported by the local backend; use file:// or a path`,
      );
    }
    path = decodeURIComponent(storageUri.slice(scheme[0].length));
  }
  if (path === '') throw new Error(`storageUri ${storageUri} names no path`);
  return isAbsolute(path) ? resolve(path) : resolve(cwd, path);
}

export function renderTemplate(text: string, ctx: LaunchContext): string {
  return text.replace(TEMPLATE, (_m, name: string) => {
    if (!NAMES.has(name)) {
      throw new Error(`unknown template {{${name}}} in local launch recipe; known: ${[...NAMES].map((n) => `{{${n}}}`).join(' ')}`);
    }
    return String(ctx[name as keyof LaunchContext] ?? (name === 'grpcPort' ? 0 : ''));
  });
}

/** Environment variables a replica inherits from Sluice's own environment (nothing else leaks through). */
export const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  'TMPDIR',
  'SYSTEMROOT',
  // Machine-level settings the runtimes' native libraries need (e.g. OpenBLAS's core type on CPUs it
  // misdetects: without it numpy inside a runtime can compute wrong results).
  'OPENBLAS_CORETYPE',
  'OPENBLAS_L2_SIZE',
  'JAVA_HOME',
  'LD_LIBRARY_PATH',
] as const;

/** The command line and environment of one replica: inherited subset + recipe env + container env + PORT. */
export function renderLaunch(
  recipe: LocalLaunchRecipe,
  containerEnv: Record<string, string>,
  ctx: LaunchContext,
  parentEnv: NodeJS.ProcessEnv = process.env,
): LaunchCommand {
  const env: Record<string, string> = {};
  for (const k of INHERITED_ENV) {
    const v = parentEnv[k];
    if (v !== undefined) env[k] = v;
  }
  for (const [k, v] of Object.entries(recipe.env)) env[k] = renderTemplate(v, ctx);
  for (const [k, v] of Object.entries(containerEnv)) env[k] = renderTemplate(v, ctx);
  env['PORT'] = String(ctx.port);
  if (ctx.grpcPort) env['GRPC_PORT'] = String(ctx.grpcPort);
  return {
    command: renderTemplate(recipe.command, ctx),
    args: recipe.args.map((a) => renderTemplate(a, ctx)),
    env,
    readinessPath: renderTemplate(recipe.readinessPath, ctx),
    stdin: recipe.stdin ?? 'pipe',
  };
}

/**
 * The recipe serves gRPC: it passes `{{grpcPort}}` to the runtime (an argument or an environment value). The
 * local backend then gives each replica a second free port for it and announces it as the endpoint's grpcUrl.
 */
export function recipeServesGrpc(recipe: LocalLaunchRecipe): boolean {
  const uses = (t: string): boolean => /\{\{\s*grpcPort\s*\}\}/.test(t);
  return recipe.args.some(uses) || Object.values(recipe.env).some(uses);
}
