import { execFileSync, spawnSync } from 'node:child_process';

/** Where a baseline's binary lives, or undefined when it is not installed. */
export function which(binary: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

const attempted = new Set<string>();

/**
 * Makes sure the Debian package providing `binary` is installed: as root it runs `apt-get update` once and
 * `apt-get install -y`; otherwise it answers how to install it. Returns undefined when the binary is there.
 */
export function ensureInstalled(binary: string, aptPackage = binary): string | undefined {
  if (which(binary)) return undefined;
  const how = `apt-get update && apt-get install -y ${aptPackage}`;
  if (process.getuid?.() !== 0) return `${binary} is not installed; install it with: sudo ${how}`;
  if (!attempted.has('update')) {
    attempted.add('update');
    process.stderr.write(`[bench] ${binary} missing: running apt-get update\n`);
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
  }
  if (!attempted.has(aptPackage)) {
    attempted.add(aptPackage);
    process.stderr.write(`[bench] installing ${aptPackage} with apt-get\n`);
    const result = spawnSync('apt-get', ['install', '-y', aptPackage], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    if (result.status !== 0) return `apt-get install ${aptPackage} failed; install it with: ${how}`;
  }
  return which(binary) ? undefined : `${binary} still missing after install; try: ${how}`;
}

/** The version line a baseline prints, for the report. */
export function versionOf(binary: string, args: string[]): string {
  const out = spawnSync(binary, args, { encoding: 'utf8' });
  return `${out.stdout}${out.stderr}`.split('\n')[0]?.trim() ?? 'unknown';
}
